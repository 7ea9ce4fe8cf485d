"""Browser side: a V8 CPU profile of "My account → Model 360" and of the login, self time by script, per checkout.

Usage: PYTHONPATH=AFTER .venv/bin/python benchmarks/ui_profile/browser_cpu.py BEFORE_CHECKOUT AFTER_CHECKOUT
(AFTER is a checkout holding benchmarks/bench_ui.py; this file's folder is found from its own path.)
"""
import collections, json, sys, time, tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]; sys.path.insert(0, str(HERE)); sys.path.insert(0, str(HERE.parent))
import bench_ui as b
from playwright.sync_api import sync_playwright

def profile(browser, v, versions, runs=3):
    agg = {"login": collections.Counter(), "to_model360": collections.Counter()}
    total = collections.Counter()
    for _ in range(runs):
        for o in versions: o.wait_pool(20)
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000}); ctx.set_default_timeout(60000)
        page = ctx.new_page(); cdp = ctx.new_cdp_session(page)
        cdp.send("Profiler.enable"); cdp.send("Profiler.setSamplingInterval", {"interval": 200})
        page.goto(v.base_url, wait_until="commit"); page.wait_for_selector(b.LOGIN_USERNAME, state="visible")
        page.get_by_placeholder("Username").fill(b.USERNAME); page.get_by_placeholder("Password").fill(b.PASSWORD)
        for step in ("login", "to_account", "to_model360"):
            if step != "to_account": cdp.send("Profiler.start")
            if step == "login": page.get_by_role("button", name="Log in").click(); b._until(page, b.MODEL360_SHOWN, b.FIRST_MODEL)
            elif step == "to_account": page.locator(".vision-nav button", has_text="My account").click(); b._until(page, b.ACCOUNT_SHOWN, [b.FIRST_MODEL]); continue
            else: page.locator(".vision-nav button", has_text="Model 360").click(); b._until(page, b.MODEL360_SHOWN, b.FIRST_MODEL)
            prof = cdp.send("Profiler.stop")["profile"]
            nodes = {n["id"]: n for n in prof["nodes"]}
            dt = collections.Counter()
            for sid, d in zip(prof["samples"], prof["timeDeltas"]): dt[sid] += d
            for nid, us in dt.items():
                cf = nodes[nid]["callFrame"]; url = cf["url"].split("/")[-1] or "(native)"
                key = f"{url} {cf['functionName'] or '(anon)'}" if url in ("(native)",) or not cf["url"] else f"{url}::{cf['functionName'] or '(anon)'}"
                agg[step][key] += us / 1000 / runs
                total[(step, cf["functionName"] if not cf["url"] else url)] += us / 1000 / runs
        page.close(); ctx.close()
    return agg, total

with tempfile.TemporaryDirectory() as tmp:
    versions = [b.Version(Path(sys.argv[1]).resolve(), Path(tmp), "before"), b.Version(Path(sys.argv[2]).resolve(), Path(tmp), "after")]
    try:
        for v in versions: v.start()
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=b.CHROMIUM, args=b.CHROMIUM_ARGS, headless=True)
            for v in versions: b.one_login(browser, v, versions, measure=False)
            for v in versions:
                agg, total = profile(browser, v, versions)
                for step in ("login", "to_model360"):
                    byscript = collections.Counter({k[1]: x for k, x in total.items() if k[0] == step})
                    print(f"== {v.label} {step}: sampled ms {sum(byscript.values()):.0f}; by script/native:")
                    for k, x in byscript.most_common(8): print(f"   {x:7.1f} ms  {k}")
                    print("   top functions:")
                    for k, x in agg[step].most_common(12): print(f"   {x:7.1f} ms  {k}")
            browser.close()
    finally:
        for v in versions: v.stop()

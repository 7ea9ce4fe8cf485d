"""Model grid benchmark: the Model 360 list (ipydatagrid) with 1,000 models, in the kernel and in Chromium.

    .venv/bin/python benchmarks/bench_grid.py [--models 1000] [--runs 5] [--write docs/performance.md]

1. In the kernel: ``DataTable.update`` with ``--models`` rows (the frame the grid sends) and the
   widget state it serialises, median of 20.
2. In headless Chromium against ``vision serve`` over a database holding ``--models`` models
   (8 features each): the "Log in" click until the grid says
   "1,000 models" and the first model's KPI cards show (build + first render); then a sort from
   the Model column's header menu (menu item click until the next two animation frames, i.e. the
   sorted canvas painted); then a click on the grid's top row until that model's page shows
   ("Model 0999" after a descending sort: proves the sort and the click both reached the kernel).
   Median of ``--runs`` fresh logins.

Figures only; nothing is asserted. ``--write`` replaces the "## Model grid (issue 9)" section.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from perf_doc import write_section  # noqa: E402

from tests.support.server_process import (  # noqa: E402
    CHROMIUM, CHROMIUM_ARGS, LOGIN_USERNAME, server_env, start_server, stop_server,
)
from vision_widgets import client  # noqa: E402
from vision_widgets.core.catalog import records  # noqa: E402
from vision_widgets.core.config import load_settings  # noqa: E402
from vision_widgets.core.context import Context  # noqa: E402
from vision_widgets.core.stats.drift import drift  # noqa: E402

SECTION = "## Model grid (issue 9)"
TIMEOUT_MS = 120_000
MODEL_COLUMN_WIDTH = 220  # views/model360.py: the Model column's width; its menu icon sits at its right end


def store_models(ctx: Context, n: int) -> None:
    """``n`` models sharing one small profiled reference/production pair (as bench_models.py does)."""
    import json

    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(1)
    frame = pd.DataFrame({f"x{i}": rng.normal(0, 1, 3000) for i in range(8)})
    frame["target"] = (frame["x0"] + rng.normal(0, 1, 3000) > 0).astype(int)
    roles = client.Roles(target="target")
    reference = client.profile(frame, roles)
    production = client.profile(frame.assign(x1=frame["x1"] + 0.5), reference=reference)
    report = drift(reference, production)
    ref_json, prod_json = reference.to_json(), production.to_json()
    drift_json = json.dumps(report.to_dict(), allow_nan=False)
    model_roles = {"target": "target", "prediction": None, "timestamp": None, "features": None, "exclude": []}
    now = ctx.now()
    owners = ("datascientist_user", "productowner_user", "sre_user", "mlengineer_user", "appowner_user")
    with ctx.store.write() as conn:
        for i in range(n):
            record = records.insert(
                conn, name=f"Model {i:04d}", description="benchmark", task="binary classification",
                platform="Databricks", connector="local", connector_details={}, owner=owners[i % 5],
                lob=f"LOB {i % 5}", sub_lob="", roles=model_roles, restricted=False, status="active",
                drift_settings={}, created_by=owners[i % 5], now=now)
            records.add_profile(conn, record.id, "reference", "training", "server", reference.rows, ref_json, now)
            pid = records.add_profile(conn, record.id, "production", "batch", "server", production.rows, prod_json,
                                       now)
            records.add_drift(conn, record.id, pid, report.dataset_drift, report.drift_share, drift_json, now)


def kernel_figures(n: int) -> dict:
    from vision_widgets.components.data_grid import DataTable

    rows = [(f"Model {i:04d}", "dana", "LOB 1", "Databricks", "active", "ok (33%)") for i in range(n)]
    table = DataTable(("Model", "Owner", "Line of business", "Platform", "Status", "Drift"))
    times, state_times = [], []
    for _ in range(20):
        t = time.perf_counter()
        table.update(rows)
        times.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        table.grid.get_state()
        state_times.append((time.perf_counter() - t) * 1000)
    table.close()
    return {"update_ms": statistics.median(times), "state_ms": statistics.median(state_times)}


def _context(browser, shared):
    """A fresh context per run (cold HTTP cache), or the shared one (warm cache: a returning user)."""
    if shared is not None:
        return shared
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    return ctx


def _done(ctx, page, shared) -> None:
    page.close(run_before_unload=True)
    if shared is None:
        ctx.close()


def before_figures(base_url: str, n: int, runs: int, warm: bool = False) -> list[float]:
    """The same login on the code before the grid (an HTML table of every row and an "Open model"
    dropdown): run with ``--before`` and ``PYTHONPATH`` pointing at that checkout."""
    from playwright.sync_api import sync_playwright

    first = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        shared = _context(browser, None) if warm else None
        for _ in range(runs + warm):  # warm: one extra, unmeasured first run fills the cache
            ctx = _context(browser, shared)
            page = ctx.new_page()
            page.goto(base_url, wait_until="commit")
            page.wait_for_selector(LOGIN_USERNAME, state="visible")
            page.get_by_placeholder("Username").fill("sre_admin")
            page.get_by_placeholder("Password").fill("sre_admin123")
            t = time.perf_counter()
            page.get_by_role("button", name="Log in").click()
            page.locator(".vision-table").first.get_by_text(f"Model {n - 1:04d}").wait_for()
            page.locator(".vision-kpi").first.wait_for()
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            first.append(time.perf_counter() - t)
            _done(ctx, page, shared)
        browser.close()
    return first[1:] if warm else first


def browser_figures(base_url: str, n: int, runs: int, warm: bool = False) -> dict:
    from playwright.sync_api import sync_playwright

    from vision_widgets.components.data_grid import HEADER_HEIGHT, ROW_HEIGHT

    first, sort, top = [], [], []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        shared = _context(browser, None) if warm else None
        for _ in range(runs + warm):  # warm: one extra, unmeasured first run fills the cache
            ctx = _context(browser, shared)
            page = ctx.new_page()
            page.goto(base_url, wait_until="commit")
            page.wait_for_selector(LOGIN_USERNAME, state="visible")
            page.get_by_placeholder("Username").fill("sre_admin")
            page.get_by_placeholder("Password").fill("sre_admin123")
            t = time.perf_counter()
            page.get_by_role("button", name="Log in").click()
            page.get_by_text(f"{n:,} models").wait_for()
            page.locator(".vision-kpi").first.wait_for()
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            first.append(time.perf_counter() - t)

            grid = page.locator(".vision-grid-models")
            grid.click(position={"x": MODEL_COLUMN_WIDTH - 6, "y": HEADER_HEIGHT - 8})  # the header's menu icon
            item = page.get_by_text("Sort Descending", exact=True)
            item.wait_for()
            t = time.perf_counter()
            item.click()
            page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            sort.append(time.perf_counter() - t)

            last = f"Model {n - 1:04d}"
            t = time.perf_counter()
            grid.click(position={"x": 60, "y": HEADER_HEIGHT + ROW_HEIGHT // 2})
            page.locator(".vision-section-title", has_text=last).wait_for()
            top.append(time.perf_counter() - t)
            _done(ctx, page, shared)
        browser.close()
    if warm:
        first, sort, top = first[1:], sort[1:], top[1:]
    return {"first_s": first, "sort_s": sort, "top_s": top}


def report(args, kernel: dict, web: dict) -> str:
    med = {k: statistics.median(v) for k, v in web.items()}
    runs = "; ".join(f"{k.split('_')[0]} " + ", ".join(f"{x:.2f}" for x in v) + " s" for k, v in web.items())
    return "\n".join([
        SECTION,
        "",
        f"`benchmarks/bench_grid.py` — the Model 360 list as an ipydatagrid with {args.models:,} models "
        f"(admin sees all), {os.cpu_count()} CPUs on a shared machine (other jobs running), "
        f"headless Chromium, median of {args.runs} fresh logins.",
        "",
        "| what | median |",
        "|---|---|",
        f"| kernel: `DataTable.update` with {args.models:,} rows | {kernel['update_ms']:.0f} ms |",
        f"| kernel: the grid's widget state (what is sent to the browser) | {kernel['state_ms']:.0f} ms |",
        f"| \"Log in\" click → grid with {args.models:,} models drawn and the first model's KPIs shown "
        f"| {med['first_s']:.2f} s |",
        f"| sort the Model column from its header menu → sorted grid painted | {med['sort_s'] * 1000:.0f} ms |",
        f"| click the top row of the sorted grid → that model's page shown | {med['top_s']:.2f} s |",
        "",
        f"Runs: {runs}.",
        "",
        "The grid paints only the rows in view on a canvas (the old HTML table put all 1,000 rows in the "
        "DOM). \"Log in → first page\" with the five demo models is in \"Web server and page load\" above.",
        "",
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--write", type=Path, default=None, help="e.g. docs/performance.md")
    parser.add_argument("--before", action="store_true", help="measure only the login on the pre-grid code")
    parser.add_argument("--warm", action="store_true", help="one browser context: the HTTP cache is kept")
    args = parser.parse_args(argv)
    kernel = {} if args.before else kernel_figures(args.models)
    print(f"kernel: {kernel}", flush=True)
    with tempfile.TemporaryDirectory(prefix="vision-bench-grid-") as tmp:
        home = Path(tmp) / "home"
        subprocess.run([sys.executable, "-m", "vision_widgets", "init"], cwd=REPO, env=server_env(home),
                       check=True, capture_output=True)
        ctx = Context.open(load_settings(server_env(home)))
        store_models(ctx, args.models)
        ctx.store.dispose()
        server = start_server(home, Path(tmp) / "server.log", init=False)
        try:
            if args.before:
                first = before_figures(server.base_url, args.models, args.runs, args.warm)
                print("before: login -> table and first model: " + ", ".join(f"{x:.2f}" for x in first)
                      + f" s (median {statistics.median(first):.2f} s)")
                return 0
            web = browser_figures(server.base_url, args.models, args.runs, args.warm)
        finally:
            stop_server(server)
    text = report(args, kernel, web)
    print(text)
    if args.write:
        write_section(args.write, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

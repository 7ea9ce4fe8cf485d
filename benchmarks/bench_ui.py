"""The web app as a daily tool (issue 9): before and after, in headless Chromium.

    .venv/bin/python benchmarks/bench_ui.py --checkout /path/to/before --checkout . [--runs 7] [--write docs/performance.md]

For each ``--checkout`` (a git checkout of this project) a ``vision serve`` runs from that checkout
(``PYTHONPATH`` and the working directory point at it) over its own ``VISION_HOME``, built the same
way for every checkout: the demo files (3,000 training rows, 500 rows a week, as the e2e tests use)
then ``vision init --demo`` (the five demo models). The account is ``sre_admin``, an admin who sees
all five. Then ``--runs`` fresh logins (a new browser context each: cold HTTP cache) per checkout,
**interleaved**: run i of every checkout happens back to back (the order alternates each round), so
load from other jobs on the machine falls on both alike. Each login times, from the click:

1. "Log in" → the first page (Model 360) shown;
2. page switch: "My account" in the navigation → that page shown, then "Model 360" → shown again;
3. model switch: open a second model ("Fraud detection") → its name heading and KPI cards show its
   values (before: the "Open model" dropdown; after: a click on the second row of the model grid).

What "shown" means is one predicate evaluated in the page on every animation frame
(``wait_for_function``), the same for both versions except where the UI differs:

- Model 360: the model list is visible (before: its HTML table; after: the grid's canvas), the open
  model's heading names it and every KPI card has a value (after, also the page title "Model 360");
- My account: the section "Your account" is visible and no Model 360 heading is (after, also the
  page title "My account");
- the second model: its heading, and KPI values equal to those read in an unmeasured warm-up login.

Figures only, nothing asserted. ``--write`` replaces the section
"## The web app as a daily tool: before and after (issue 9)".
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))

from perf_doc import write_section

from tests.support.server_process import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOGIN_USERNAME,
    free_port,
    server_env,
    stop_process,
)

SECTION = "## The web app as a daily tool: before and after (issue 9)"
USERNAME, PASSWORD = "sre_admin", "sre_admin123"
FIRST_MODEL, SECOND_MODEL = "Customer churn", "Fraud detection"
TIMEOUT_MS = 60_000
BUDGET = 1.10  # issue 9: none may get slower than today's figures by more than 10%
FIGURES = (
    ("login", "\"Log in\" click → Model 360 shown"),
    ("to_account", "page switch: Model 360 → My account shown"),
    ("to_model360", "page switch: My account → Model 360 shown"),
    ("model_switch", "model switch: open a second model → its KPIs shown"),
)

# -- "shown", evaluated in the page ------------------------------------------------------------
JS_HELPERS = """
const vis = (el) => !!el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
const visible = (sel) => [...document.querySelectorAll(sel)].filter(vis);
const text = (el) => (el.innerText || el.textContent || '').trim();
const titled = (t) => { const got = visible('.vision-page-title').map(text);
                         return got.length === 0 ? !document.querySelector('.vision-nav-group') : got.includes(t); };
const kpis = () => visible('.vision-kpi-value').map(text);
const listShown = () => visible('.vision-grid-models canvas').some(c => c.width > 0 && c.height > 0)
                        || visible('.vision-page .vision-table').length > 0;
const heading = () => visible('.vision-page .vision-section-title').map(text);
"""
# ``titled``: a sidebar (after) has '.vision-nav-group'; the top row of buttons (before) has no page title.

MODEL360_SHOWN = JS_HELPERS + """
return (name) => { const k = kpis();
  return titled('Model 360') && listShown() && heading().includes(name) && k.length > 0 && k.every(v => v !== ''); };
"""
ACCOUNT_SHOWN = JS_HELPERS + """
return (names) => titled('My account') && heading().includes('Your account') && !names.some(n => heading().includes(n));
"""
MODEL_SHOWN = JS_HELPERS + """
return ([name, values]) => { const k = kpis();
  return heading().includes(name) && JSON.stringify(k) === JSON.stringify(values); };
"""


def _fn(body: str) -> str:
    """The predicate; the first time it holds it stamps ``window.__shown`` (``performance.now()``)."""
    return (f"(arg) => {{ const ok = (function() {{ {body} }})()(arg); "
            "if (ok && window.__split) window.__split.shown = performance.now(); return ok; }")


#: Where the time goes, measured in the page: every WebSocket frame from the kernel is stamped, so a
#: timed step splits into click → last kernel frame before "shown" (the kernel's work and the wire)
#: and last frame → shown (the browser creating and laying out the widget views).
SPLIT_SCRIPT = """
window.__frames = [];
const Native = window.WebSocket;
window.WebSocket = function(...args) {
  const ws = new Native(...args);
  const send = ws.send.bind(ws);
  ws.send = (data) => { if (window.__split && window.__split.sent === null) window.__split.sent = performance.now();
                        return send(data); };
  ws.addEventListener('message', (e) => {
    const size = typeof e.data === 'string' ? e.data.length : (e.data.byteLength || e.data.size || 0);
    window.__frames.push([performance.now(), size]);
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
// The first input event the page receives after the mark: when the person's gesture reaches the page.
// Playwright first waits for the target to be visible, stable (two animation frames) and hit; that wait
// is the driver's, not the app's, and differs between a click and choosing from a <select>.
for (const kind of ['pointerdown', 'mousedown', 'keydown', 'input', 'change']) {
  document.addEventListener(kind, () => { if (window.__split && window.__split.gesture === null)
                                            window.__split.gesture = performance.now(); }, true);
}
window.__mark = () => { window.__frames = [];
                        window.__split = {click: performance.now(), shown: null, sent: null, gesture: null}; };
window.__result = () => {
  const s = window.__split, f = window.__frames.filter(([t]) => t <= s.shown);
  const last = f.length ? f[f.length - 1][0] : s.click;
  return {kernel: (last - s.click) / 1000, browser: (s.shown - last) / 1000, frames: f.length,
          input: s.sent === null ? null : (s.sent - s.click) / 1000,
          gesture: s.gesture === null ? null : (s.shown - s.gesture) / 1000,
          kib: f.reduce((a, [, n]) => a + n, 0) / 1024};
};
"""


# -- servers ---------------------------------------------------------------------------------------
class Version:
    """One checkout served by ``vision serve`` from that checkout."""

    def __init__(self, checkout: Path, tmp: Path, label: str) -> None:
        self.checkout, self.label = checkout, label
        self.home = tmp / label / "home"
        self.log_path = tmp / label / "server.log"
        self.home.mkdir(parents=True)
        self.env = server_env(self.home, PYTHONPATH=str(checkout))
        self.commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
                                     capture_output=True, text=True, check=False).stdout.strip()
        self.proc: subprocess.Popen | None = None
        self.base_url = ""
        self.times: dict[str, list[float]] = {key: [] for key, _ in FIGURES}
        self.second_kpis: list[str] | None = None
        self.splits: dict[str, list[dict]] = {key: [] for key, _ in FIGURES}

    def _py(self, *args: str, timeout: float = 600) -> None:
        done = subprocess.run([sys.executable, *args], cwd=self.checkout, env=self.env,
                              capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{self.label}: {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    def start(self) -> None:
        self._py("-c", "import sys; from pathlib import Path; from vision_widgets.demo import datasets; "
                       "datasets.write_files(Path(sys.argv[1]) / 'demo-data', train_rows=3000, weekly_rows=500)",
                 str(self.home))
        self._py("-m", "vision_widgets", "init", "--demo")
        port = free_port()
        log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 — closed with the process
        self.proc = subprocess.Popen([sys.executable, "-m", "vision_widgets", "serve", "--port", str(port)],
                                     cwd=self.checkout, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        self.base_url = f"http://127.0.0.1:{port}/"
        self.wait_pool(90)

    def kernels(self) -> dict:
        with urllib.request.urlopen(self.base_url + "vision/api/health", timeout=5) as resp:
            return json.loads(resp.read())["kernels"]

    def wait_pool(self, timeout: float = 60) -> None:
        """Until the kernel pool is full and no other kernel runs (the last tab's kernel is shut down)."""
        deadline = time.monotonic() + timeout
        k: dict = {}
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.label}: server exited:\n{self.log_path.read_text()}")
            try:
                k = self.kernels()
                if k["pool_ready"] >= k["pool_size"] and k["running"] <= k["pool_size"]:
                    return
            except OSError:
                pass
            time.sleep(0.25)
        if k and k["pool_ready"] >= k["pool_size"]:  # a kernel not yet shut down: note it, go on
            print(f"  {self.label}: {k['running']} kernels for a pool of {k['pool_size']} after {timeout}s",
                  flush=True)
            return
        raise RuntimeError(f"{self.label}: kernel pool not ready after {timeout}s: {k}")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            stop_process(self.proc, group=True)


# -- one login ---------------------------------------------------------------------------------------
def _until(page, body: str, arg) -> None:
    page.wait_for_function(_fn(body), arg=arg, polling="raf", timeout=TIMEOUT_MS)


def _open_second_model(page) -> None:
    """Before: the "Open model" dropdown; after: the second row of the model grid (sorted by name)."""
    grid = page.locator(".vision-grid-models")
    if grid.count():
        header, row = 32, 30  # components/data_grid.py: HEADER_HEIGHT, ROW_HEIGHT
        grid.click(position={"x": 60, "y": header + row + row // 2})
    else:
        page.locator(".widget-hbox:has(> .widget-label:text-is('Open model')) select").select_option(
            label=SECOND_MODEL)


def one_login(browser, v: Version, versions: list[Version], measure: bool = True) -> dict[str, float]:
    for other in versions:  # a refilling pool or a kernel shutting down on either server takes CPU from this run
        other.wait_pool()
    time.sleep(0.5)
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    ctx.add_init_script(SPLIT_SCRIPT)
    page = ctx.new_page()
    out: dict[str, float] = {}
    splits: dict[str, dict] = {}
    try:
        page.goto(v.base_url, wait_until="commit")
        page.wait_for_selector(LOGIN_USERNAME, state="visible")
        page.get_by_placeholder("Username").fill(USERNAME)
        page.get_by_placeholder("Password").fill(PASSWORD)
        button = page.get_by_role("button", name="Log in")
        page.evaluate("window.__mark()")
        t = time.perf_counter()
        button.click()
        _until(page, MODEL360_SHOWN, FIRST_MODEL)
        out["login"] = time.perf_counter() - t
        splits["login"] = page.evaluate("window.__result()")

        nav = page.locator(".vision-nav button", has_text="My account")
        page.evaluate("window.__mark()")
        t = time.perf_counter()
        nav.click()
        _until(page, ACCOUNT_SHOWN, [FIRST_MODEL, SECOND_MODEL])
        out["to_account"] = time.perf_counter() - t
        splits["to_account"] = page.evaluate("window.__result()")

        nav = page.locator(".vision-nav button", has_text="Model 360")
        page.evaluate("window.__mark()")
        t = time.perf_counter()
        nav.click()
        _until(page, MODEL360_SHOWN, FIRST_MODEL)
        out["to_model360"] = time.perf_counter() - t
        splits["to_model360"] = page.evaluate("window.__result()")

        if v.second_kpis is None:  # the warm-up: learn what the second model's cards say
            _open_second_model(page)
            page.locator(".vision-section-title", has_text=SECOND_MODEL).wait_for()
            page.wait_for_timeout(2000)
            v.second_kpis = page.evaluate(_fn(JS_HELPERS + "return () => kpis();"), None)
            print(f"  {v.label}: {SECOND_MODEL} KPIs {v.second_kpis}", flush=True)
        else:
            page.evaluate("window.__mark()")
            t = time.perf_counter()
            _open_second_model(page)
            _until(page, MODEL_SHOWN, [SECOND_MODEL, v.second_kpis])
            out["model_switch"] = time.perf_counter() - t
            splits["model_switch"] = page.evaluate("window.__result()")
    finally:
        page.close(run_before_unload=True)
        ctx.close()
    if measure:
        for key, value in out.items():
            v.times[key].append(value)
            v.splits[key].append(splits[key])
    return out


def run(checkouts: list[Path], labels: list[str], runs: int) -> dict:
    from playwright.sync_api import sync_playwright

    result: dict = {"load_start": os.getloadavg(), "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    with tempfile.TemporaryDirectory(prefix="vision-bench-ui-") as tmp:
        versions = [Version(c, Path(tmp), label) for c, label in zip(checkouts, labels)]
        try:
            for v in versions:
                print(f"starting {v.label} ({v.checkout}, {v.commit})", flush=True)
                v.start()
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
                for v in versions:  # warm-up, not counted: disk cache, first imports, the second model's KPIs
                    one_login(browser, v, versions, measure=False)
                for i in range(runs):
                    order = versions if i % 2 == 0 else versions[::-1]
                    for v in order:
                        got = one_login(browser, v, versions)
                        print(f"  run {i + 1} {v.label}: " + ", ".join(f"{k} {x:.3f}" for k, x in got.items()),
                              flush=True)
                browser.close()
        finally:
            for v in versions:
                v.stop()
    result["load_end"] = os.getloadavg()
    result["versions"] = [{"label": v.label, "checkout": str(v.checkout), "commit": v.commit, "times": v.times,
                           "splits": v.splits} for v in versions]
    return result


# -- report ------------------------------------------------------------------------------------------------
def table(result: dict) -> list[str]:
    vs = result["versions"]
    med = [{k: statistics.median(x) for k, x in v["times"].items() if x} for v in vs]
    head = "| figure (median) | " + " | ".join(f"{v['label']} (`{v['commit']}`)" for v in vs) + " |"
    lines = [head, "|---|" + "---|" * len(vs)]
    if len(vs) == 2:
        lines[0] += " after / before | within +10%? |"
        lines[1] += "---|---|"
    for key, name in FIGURES:
        row = f"| {name} | " + " | ".join(f"{m[key]:.3f} s" for m in med) + " |"
        if len(vs) == 2:
            ratio = med[1][key] / med[0][key]
            row += f" {ratio:.2f} | {'yes' if ratio <= BUDGET else '**no**'} |"
        lines.append(row)
    return lines


def split_table(result: dict) -> list[str]:
    """Medians of the in-page split: click → first message to the kernel (the gesture in the browser),
    click → last kernel frame, last frame → shown, frames and KiB received."""
    vs = result["versions"]
    lines = ["| figure (median) | " + " | ".join(f"{v['label']}: input / kernel + wire / browser / frames / KiB"
                                                  for v in vs)
             + " |", "|---|" + "---|" * len(vs)]
    for key, name in FIGURES:
        cells = []
        for v in vs:
            sp = v.get("splits", {}).get(key) or []
            if not sp:
                cells.append("–")
                continue
            m = {f: statistics.median(x[f] for x in sp) for f in ("kernel", "browser", "frames", "kib")}
            sent = [x["input"] for x in sp if x.get("input") is not None]
            gesture = f"{statistics.median(sent):.3f} s" if sent else "–"
            cells.append(f"{gesture} / {m['kernel']:.3f} s / {m['browser']:.3f} s / {m['frames']:.0f} / {m['kib']:.0f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def gesture_table(result: dict) -> list[str]:
    """Medians of the page's first input event of the gesture → shown: the app's time for the person's
    action, without the driver's own wait before it dispatches the event."""
    vs = result["versions"]
    lines = ["| figure (median, from the gesture's first event in the page) | "
             + " | ".join(f"{v['label']} (`{v['commit']}`)" for v in vs) + " |", "|---|" + "---|" * len(vs)]
    if len(vs) == 2:
        lines[0] += " after / before | within +10%? |"
        lines[1] += "---|---|"
    for key, name in FIGURES:
        meds = []
        for v in vs:
            got = [x["gesture"] for x in (v.get("splits", {}).get(key) or []) if x.get("gesture") is not None]
            meds.append(statistics.median(got) if got else None)
        row = f"| {name} | " + " | ".join("–" if m is None else f"{m:.3f} s" for m in meds) + " |"
        if len(vs) == 2 and None not in meds:
            ratio = meds[1] / meds[0]
            row += f" {ratio:.2f} | {'yes' if ratio <= BUDGET else '**no**'} |"
        lines.append(row)
    return lines


def section(result: dict, runs: int, notes: str) -> str:
    vs = result["versions"]
    ls, le = result["load_start"], result["load_end"]
    all_runs = []
    for v in vs:
        for key, name in FIGURES:
            all_runs.append(f"- {v['label']}, {name}: " + ", ".join(f"{x:.2f}" for x in v["times"][key]) + " s")
    return "\n".join([
        SECTION,
        "",
        (f"Measured by `benchmarks/bench_ui.py` on {result['started']} ({platform.machine()}, {os.cpu_count()} cores, "
        f"headless Chromium, Python {platform.python_version()}), `sre_admin` over the five demo models "
        f"(`vision init --demo`), median of {runs} fresh logins per version. Other jobs shared the machine: load "
        f"average {ls[0]:.2f} / {ls[1]:.2f} / {ls[2]:.2f} (1/5/15 min) at the start, "
        f"{le[0]:.2f} / {le[1]:.2f} / {le[2]:.2f} at the end. The before and after runs are interleaved "
        "(round i of each version back to back, the order alternating), so the figure to read is the "
        "before/after pair, not the absolute seconds."),
        "",
        *table(result),
        "",
        ("Where the time goes (stamped in the page: every WebSocket frame from the kernel, and the moment the "
        "\"shown\" predicate first held; \"input\" is click → the first message the page sends to the kernel "
        "(the browser handling the gesture), \"kernel + wire\" is click → the last frame before shown, "
        "\"browser\" is that frame → shown):"),
        "",
        *split_table(result),
        "",
        ("The same steps timed from the gesture's first input event in the page (pointerdown for a click, "
         "input/change for a choice from a list, keydown for a key) to shown: what the person waits for, "
         "without Playwright's own wait before it dispatches (visible, stable for two animation frames, hit):"),
        "",
        *gesture_table(result),
        "",
        "Every run:",
        "",
        *all_runs,
        "",
        notes,
    ])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkout", type=Path, action="append",
                        help="a checkout to serve (repeat: before first, then after); default: this one")
    parser.add_argument("--label", action="append", help="a name per --checkout (default: before, after)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--write", type=Path, default=None, help="e.g. docs/performance.md")
    parser.add_argument("--notes", type=Path, default=HERE / "bench_ui_notes.md",
                        help="reading notes appended to the section (what the last full run found)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    checkouts = [c.resolve() for c in (args.checkout or [REPO])]
    labels = args.label or (["before", "after"] if len(checkouts) == 2 else [c.name for c in checkouts])
    result = run(checkouts, labels, args.runs)
    notes = args.notes.read_text(encoding="utf-8").strip() if args.notes and args.notes.exists() else ""
    text = section(result, args.runs, notes)
    print(text)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    if args.write:
        write_section(args.write if args.write.is_absolute() else REPO / args.write, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

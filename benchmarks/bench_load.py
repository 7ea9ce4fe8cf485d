"""Load held (issue 14): N browser sessions at once, against one server and against two behind nginx.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_load.py [--sessions 20] [--switches 6]
        [--halves one,two] [--write docs/performance.md]

One throw-away PostgreSQL database (``tests/support/postgres.py``; SQLite when PostgreSQL is not
installed, and then only the one-server half) gets ``vision init --demo`` over small demo files (3,000
training rows, 500 a week, as the e2e tests use). Then, each half in turn:

* **one server**: ``vision serve`` (with its worker);
* **two servers**: two ``vision serve --no-worker`` and one ``vision worker`` on the same database,
  behind nginx on loopback with a generated configuration (``nginx_config``: the one docs/deploy.md
  shows), started from a temporary folder and stopped after. nginx is installed with ``apt-get`` when
  missing and we are root; otherwise this half is skipped with a message. After the load, a probe
  opens a few tabs through a *round-robin* upstream (no stickiness) to show what happens to a Voila
  page whose websocket reaches the other server.

The load: ``--sessions`` headless Chromium contexts (one Chromium, system ``/usr/bin/chromium``) start
together; each logs in as one of the ten sample accounts (in turn) and then clicks ``--switches``
times through the pages of its navigation, in order. A switch is timed from the click until the page's
title shows the clicked page (``.vision-page-title``). Errors counted: failed logins, pages not shown
within the timeout, console errors and page errors, and tabs whose kernel died (Voila's "Kernel"
error texts). While the load runs a sampler reads, every half second, the kernel counts from
``/vision/api/health`` and the memory (RSS) of every server process and its children (kernels, the
worker); at the peak the kernels' PSS/USS is read too (``psutil``), which gives kernels per GB.
After the load every tab is closed like a user closes it (``beforeunload``: the kernel shutdown
beacon) and the kernel counts must come back to the pool.

Figures only, nothing asserted. ``--write`` replaces the section
"## Load: 20 sessions, one and two servers (issue 14)" of the given file.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

import psutil
from helpers import PASSWORDS
from perf_doc import write_section

from tests.support.server_process import (
    CHROMIUM,
    CHROMIUM_ARGS,
    LOGIN_USERNAME,
    LiveServer,
    free_port,
    get_json,
    server_env,
    start_server,
    stop_process,
    stop_server,
)

SECTION = "## Load: 20 sessions, one and two servers (issue 14)"
TIMEOUT_MS = 90_000
ACCOUNTS = sorted(PASSWORDS)
#: Texts Voila's page shows when its kernel died or never started.
KERNEL_ERRORS = ("Kernel never reached", "Kernel died", "Error starting kernel", "There was an error when executing")


# -- nginx --------------------------------------------------------------------------------------------
def nginx_config(prefix: Path, listen: int, upstreams: list[int], sticky: bool, upload_limit_mb: int = 11) -> str:
    """The reverse proxy of docs/deploy.md, on loopback: ``sticky`` routes a browser to one server
    by a cookie nginx sets itself (open-source nginx: ``hash`` on the cookie, a random first value);
    without it, plain per-request round robin (to show why that fails)."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=0;" for p in upstreams)
    balance = "        hash $vision_route consistent;\n" if sticky else ""
    set_cookie = ('            add_header Set-Cookie "vision_route=$vision_route; Path=/; HttpOnly; SameSite=Lax" '
                  "always;\n") if sticky else ""
    return f"""daemon off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log {prefix}/access.log;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    map $cookie_vision_route $vision_route {{ "" $request_id; default $cookie_vision_route; }}
    upstream vision {{
{balance}{servers}
    }}
    server {{
        listen 127.0.0.1:{listen};
        client_max_body_size {upload_limit_mb}m;
        location / {{
            proxy_pass http://vision;
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_buffering off;
            proxy_read_timeout 120s;
            proxy_send_timeout 120s;
{set_cookie}        }}
    }}
}}
"""


def ensure_nginx() -> str | None:
    """The nginx binary, installing Debian's package when missing and we are root; None if impossible."""
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None
    print("installing nginx with apt-get …", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx-light"],
                          env=env, capture_output=True, text=True)
    if done.returncode != 0:
        done = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "nginx"],
                              env=env, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:] + done.stderr[-2000:], flush=True)
        return None
    return shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)


@dataclass
class Nginx:
    proc: subprocess.Popen
    port: int
    prefix: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def stop(self) -> None:
        stop_process(self.proc, grace=10, stop_signal=signal.SIGQUIT)  # graceful: finish open requests


def start_nginx(binary: str, prefix: Path, upstreams: list[int], sticky: bool) -> Nginx:
    prefix.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, port, upstreams, sticky), encoding="utf-8")
    proc = subprocess.Popen([binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
    nginx = Nginx(proc, port, prefix)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("nginx exited: " + (prefix / "error.log").read_text(errors="replace"))
        try:
            get_json(nginx.base_url + "vision/api/health")
            return nginx
        except OSError:
            time.sleep(0.2)
    nginx.stop()
    raise RuntimeError("nginx did not answer on " + nginx.base_url)


def channel_statuses(prefix: Path) -> dict[str, int]:
    """How nginx's upstreams answered the kernel websockets (``/api/kernels/<id>/channels``): status → count."""
    counts: dict[str, int] = {}
    log = prefix / "access.log"
    for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
        if "/api/kernels/" in line and "/channels" in line:
            parts = line.split('"')
            status = parts[2].split()[0] if len(parts) > 2 and parts[2].split() else "?"
            counts[status] = counts.get(status, 0) + 1
    return counts


# -- memory and kernels ------------------------------------------------------------------------------
def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _is_kernel(p: psutil.Process) -> bool:
    try:
        return "ipykernel_launcher" in " ".join(p.cmdline())
    except psutil.Error:
        return False


def tree_rss_mb(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        for p in _tree(pid):
            try:
                total += p.memory_info().rss
            except psutil.Error:
                pass
    return total / 2**20


def kernel_memory(pids: list[int]) -> dict[str, float]:
    """Mean RSS, PSS and USS (MB) of the kernels under the given servers."""
    rss, pss, uss = [], [], []
    for pid in pids:
        for p in _tree(pid):
            if not _is_kernel(p):
                continue
            try:
                full = p.memory_full_info()
            except psutil.Error:
                continue
            rss.append(full.rss / 2**20)
            pss.append(full.pss / 2**20)
            uss.append(full.uss / 2**20)
    if not rss:
        return {"n": 0}
    return {"n": len(rss), "rss": statistics.mean(rss), "pss": statistics.mean(pss), "uss": statistics.mean(uss)}


class Sampler(threading.Thread):
    """Every half second: running kernels (health of each server) and the RSS of the server trees."""

    def __init__(self, servers: list[LiveServer], extra_pids: list[int]) -> None:
        super().__init__(daemon=True)
        self.servers, self.pids = servers, [s.proc.pid for s in servers] + extra_pids
        self.stop_event = threading.Event()
        self.peak_kernels = 0
        self.peak_rss = 0.0
        self.peak_kernel_memory: dict[str, float] = {"n": 0}

    def run(self) -> None:
        last = 0.0
        while not self.stop_event.is_set():
            try:
                kernels = sum(s.kernels()["running"] for s in self.servers)
            except OSError:
                kernels = 0
            rss = tree_rss_mb(self.pids)
            # kernels grow as their pages are opened: read them again (every 2 s) while the count is at its peak
            if kernels > self.peak_kernels or (kernels == self.peak_kernels and time.monotonic() - last > 2.0):
                self.peak_kernels = kernels
                self.peak_kernel_memory = kernel_memory([s.proc.pid for s in self.servers])
                last = time.monotonic()
            self.peak_rss = max(self.peak_rss, rss)
            self.stop_event.wait(0.5)


# -- one browser session -------------------------------------------------------------------------------
@dataclass
class SessionResult:
    switches: list[float] = field(default_factory=list)
    login: float | None = None
    errors: list[str] = field(default_factory=list)


PAGE_SHOWN = """(title) => [...document.querySelectorAll('.vision-page-title')]
    .some(el => el.getClientRects().length > 0 && (el.innerText || '').trim() === title)"""


async def one_session(browser, url: str, account: str, switches: int, start: asyncio.Event) -> tuple[SessionResult, object]:
    result = SessionResult()
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.set_default_timeout(TIMEOUT_MS)
    page = await ctx.new_page()
    page.on("console", lambda m: result.errors.append(f"console: {m.text}") if m.type == "error" else None)
    page.on("pageerror", lambda e: result.errors.append(f"page error: {e}"))
    await start.wait()
    try:
        await page.goto(url, wait_until="commit")
        await page.wait_for_selector(LOGIN_USERNAME, state="visible")
        await page.get_by_placeholder("Username").fill(account)
        await page.get_by_placeholder("Password").fill(PASSWORDS[account])
        t = time.perf_counter()
        await page.get_by_role("button", name="Log in").click()
        await page.get_by_role("button", name="Log out").wait_for()
        result.login = time.perf_counter() - t
        titles = [s.strip() for s in await page.locator(".vision-nav button").all_inner_texts() if s.strip()]
        current = (await page.locator(".vision-page-title").first.inner_text()).strip()
        order = [t for t in titles if t != current] + [current]
        for i in range(switches):
            title = order[i % len(order)]
            t = time.perf_counter()
            await page.locator(".vision-nav button", has_text=title).first.click()
            await page.wait_for_function(PAGE_SHOWN, arg=title, timeout=TIMEOUT_MS)
            result.switches.append(time.perf_counter() - t)
        body = await page.locator("body").inner_text()
        result.errors += [f"kernel: {k}" for k in KERNEL_ERRORS if k in body]
    except Exception as exc:  # noqa: BLE001 — every failure is a counted error, with its kind
        result.errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:160]}")
    return result, ctx


async def close_contexts(contexts) -> None:
    for ctx in contexts:
        for p in ctx.pages:
            try:
                await p.close(run_before_unload=True)
            except Exception:  # noqa: BLE001
                pass
    await asyncio.sleep(1.0)  # let the beacons leave before the contexts' network goes
    for ctx in contexts:
        try:
            await ctx.close()
        except Exception:  # noqa: BLE001
            pass


async def run_load(url: str, sessions: int, switches: int) -> list[SessionResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            start = asyncio.Event()
            tasks = [asyncio.create_task(one_session(browser, url, ACCOUNTS[i % len(ACCOUNTS)], switches, start))
                     for i in range(sessions)]
            await asyncio.sleep(0.5)
            start.set()
            done = await asyncio.gather(*tasks)
            await close_contexts([ctx for _, ctx in done])
            return [r for r, _ in done]
        finally:
            await browser.close()


async def probe_round_robin(url: str, tabs: int) -> tuple[int, int]:
    """Open ``tabs`` tabs through a round-robin proxy: how many log in (the form within 60 s)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            async def one():
                ctx = await browser.new_context()
                page = await ctx.new_page()
                try:
                    await page.goto(url, wait_until="commit")
                    await page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=60_000)
                    # the form shows before its widgets' kernel connection is proven: type and log in
                    await page.get_by_placeholder("Username").fill("sre_user")
                    await page.get_by_placeholder("Password").fill(PASSWORDS["sre_user"])
                    await page.get_by_role("button", name="Log in").click()
                    await page.get_by_role("button", name="Log out").wait_for(timeout=30_000)
                    return True, ctx
                except Exception:  # noqa: BLE001
                    return False, ctx

            done = await asyncio.gather(*(one() for _ in range(tabs)))
            await close_contexts([ctx for _, ctx in done])
            return sum(ok for ok, _ in done), tabs
        finally:
            await browser.close()


# -- one half ----------------------------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q * (len(ordered) - 1))))
    return ordered[k]


def measure(label: str, url: str, servers: list[LiveServer], extra_pids: list[int], sessions: int,
            switches: int) -> dict:
    pool = sum(s.kernels()["pool_size"] for s in servers)
    for s in servers:
        s.wait_for_kernels(lambda c: c["pool_ready"] >= c["pool_size"], timeout=120)
    before_rss = tree_rss_mb([s.proc.pid for s in servers] + extra_pids)
    pool_memory = kernel_memory([s.proc.pid for s in servers])  # the preheated kernels, login form only
    sampler = Sampler(servers, extra_pids)
    sampler.start()
    t0 = time.perf_counter()
    results = asyncio.run(run_load(url, sessions, switches))
    wall = time.perf_counter() - t0
    t_closed = time.perf_counter()
    for s in servers:
        s.wait_for_kernels(lambda c: c["running"] <= c["pool_size"] and c["pool_ready"] >= c["pool_size"],
                           timeout=180)
    back = time.perf_counter() - t_closed
    sampler.stop_event.set()
    sampler.join()
    after_kernels = sum(s.kernels()["running"] for s in servers)
    after_rss = tree_rss_mb([s.proc.pid for s in servers] + extra_pids)
    switch_times = [x for r in results for x in r.switches]
    logins = [r.login for r in results if r.login is not None]
    errors = [e for r in results for e in r.errors]
    out = {
        "label": label, "sessions": sessions, "switches": switches, "pool": pool,
        "errors": len(errors), "error_kinds": sorted({e[:120] for e in errors})[:8],
        "failed_logins": sum(r.login is None for r in results),
        "switches_done": len(switch_times), "switches_planned": sessions * switches,
        "p50": pct(switch_times, 0.5), "p95": pct(switch_times, 0.95),
        "login_p50": pct(logins, 0.5), "login_p95": pct(logins, 0.95),
        "peak_kernels": sampler.peak_kernels, "after_kernels": after_kernels, "back_to_pool_s": back,
        "rss_before": before_rss, "rss_peak": sampler.peak_rss, "rss_after": after_rss,
        "kernel_memory": sampler.peak_kernel_memory, "pool_memory": pool_memory, "wall": wall,
    }
    print(f"[{label}] {out}", flush=True)
    return out


def init_database(root: Path) -> dict[str, str]:
    """A database with the demo models; returns the environment every process shares."""
    from vision_widgets.demo import datasets

    shared: dict[str, str] = {}
    cluster = None
    try:
        from tests.support.postgres import pg_bin_dir, start_cluster

        if pg_bin_dir() is not None:
            from cryptography.fernet import Fernet

            cluster = start_cluster()
            shared["VISION_DATABASE_URL"] = cluster.new_database()
            shared["VISION_SECRET_KEY"] = Fernet.generate_key().decode()
    except RuntimeError as exc:
        print(f"PostgreSQL unavailable ({exc}); SQLite, one server only", flush=True)
    home = root / "home"
    datasets.write_files(home / "demo-data", train_rows=3000, weekly_rows=500)
    shared["VISION_DATA_ROOTS"] = str(home / "demo-data")
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "init", "--demo"], cwd=REPO,
                          env=server_env(home, **shared), capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError("`vision init --demo` failed:\n" + done.stdout + done.stderr)
    shared["_cluster"] = cluster  # type: ignore[assignment]
    return shared


def run(sessions: int, switches: int, halves: list[str], probe_tabs: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix="vision-load-"))
    shared = init_database(root)
    cluster = shared.pop("_cluster")  # type: ignore[arg-type]
    results: dict = {"halves": [], "probe": None, "note": ""}
    try:
        if "one" in halves:
            server = start_server(root / "home", root / "one.log", init=False, env_extra=shared)
            try:
                results["halves"].append(measure("one server", server.base_url, [server], [], sessions, switches))
            finally:
                stop_server(server)
        if "two" in halves:
            if "VISION_DATABASE_URL" not in shared:
                results["note"] = "two servers skipped: PostgreSQL is not installed"
            elif (binary := ensure_nginx()) is None:
                results["note"] = "two servers skipped: nginx is not installed and could not be installed"
            else:
                results["two"] = True
                log = open(root / "worker.log", "w", encoding="utf-8")  # noqa: SIM115
                worker = subprocess.Popen([sys.executable, "-m", "vision_widgets", "worker"], cwd=REPO,
                                          env=server_env(root / "worker-home", **shared), stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True)
                log.close()
                servers: list[LiveServer] = []
                nginx = None
                try:
                    for name in ("a", "b"):
                        servers.append(start_server(root / f"{name}-home", root / f"{name}.log", init=False,
                                                    serve_args=["--no-worker"], env_extra=shared))
                    ports = [int(s.base_url.rsplit(":", 1)[1].strip("/")) for s in servers]
                    nginx = start_nginx(binary, root / "nginx", ports, sticky=True)
                    half = measure("two servers behind nginx", nginx.base_url, servers, [worker.pid], sessions,
                                   switches)
                    results["halves"].append(half)
                    if probe_tabs:  # after the load: the kernels it strands wait for the orphan timeout
                        rr = start_nginx(binary, root / "nginx-rr", ports, sticky=False)
                        try:
                            ok, n = asyncio.run(probe_round_robin(rr.base_url, probe_tabs))
                            results["probe"] = {"ok": ok, "tabs": n, "channels": channel_statuses(rr.prefix)}
                            print(f"[round robin] {ok} of {n} tabs logged in", flush=True)
                        finally:
                            rr.stop()
                finally:
                    if nginx is not None:
                        nginx.stop()
                    for s in servers:
                        stop_server(s)
                    stop_process(worker)
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    return results


# -- the section -------------------------------------------------------------------------------------
def section(result: dict, command: str) -> str:
    load = os.getloadavg()
    mem = psutil.virtual_memory().total / 2**30
    lines = [SECTION, "",
             f"Machine: {platform.machine()}, {os.cpu_count()} cores, {mem:.0f} GB, Python {platform.python_version()}; "
             f"load average at the end {load[0]:.2f}. Command: `{command}`.", ""]
    lines += ["| | " + " | ".join(h["label"] for h in result["halves"]) + " |",
              "|---|" + "---|" * len(result["halves"])]

    def row(name, fmt):
        lines.append(f"| {name} | " + " | ".join(fmt(h) for h in result["halves"]) + " |")

    row("sessions × page switches", lambda h: f"{h['sessions']} × {h['switches']} ({h['switches_done']} done)")
    row("errors (failed logins, pages not shown, console/page errors, kernel failures)",
        lambda h: f"{h['errors']} (failed logins {h['failed_logins']})")
    row("page switch p50 / p95", lambda h: f"{h['p50']:.2f} s / {h['p95']:.2f} s")
    row("login p50 / p95 (click → shell)", lambda h: f"{h['login_p50']:.2f} s / {h['login_p95']:.2f} s")
    row("kernels at peak (pool size)", lambda h: f"{h['peak_kernels']} ({h['pool']})")
    row("kernels after the tabs closed", lambda h: f"{h['after_kernels']} (back in {h['back_to_pool_s']:.1f} s)")
    row("memory of server(s) + kernels + worker: before / peak / after",
        lambda h: f"{h['rss_before']:.0f} / {h['rss_peak']:.0f} / {h['rss_after']:.0f} MB (RSS)")
    row("one kernel at the peak (its pages opened): RSS / PSS / USS",
        lambda h: (f"{h['kernel_memory']['rss']:.0f} / {h['kernel_memory']['pss']:.0f} / "
                   f"{h['kernel_memory']['uss']:.0f} MB (n={h['kernel_memory']['n']})")
        if h["kernel_memory"].get("n") else "–")
    row("a preheated pool kernel before the load: RSS / PSS / USS",
        lambda h: (f"{h['pool_memory']['rss']:.0f} / {h['pool_memory']['pss']:.0f} / "
                   f"{h['pool_memory']['uss']:.0f} MB (n={h['pool_memory']['n']})")
        if h["pool_memory"].get("n") else "–")
    row("wall time of the load", lambda h: f"{h['wall']:.0f} s")
    sessions = result["halves"][0]["sessions"] if result["halves"] else 0
    if sessions < 20:
        lines += ["", f"**A smoke run ({sessions} sessions), not the 20-session load**: the machine was shared with other "
                      "test runs (load average above). The full figures come from "
                      "`PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_load.py --sessions 20 --write docs/performance.md` "
                      "on a quiet machine."]
    lines += ["", "Reading notes: a page switch is timed from the click in the navigation to the page's title "
                  "showing the clicked page, every session clicking at once; the two-server half adds nginx and "
                  "spreads the kernels over two processes on the same two cores, so it measures correctness and "
                  "routing more than speed. Memory after the load is above memory before because the refilled pool "
                  "kernels and the servers' own heaps grew; the kernel count is back to the pool. Kernels per GB "
                  "(docs/deploy.md) come from the PSS of a kernel whose pages were opened."]
    if result.get("probe"):
        p = result["probe"]
        lines += ["", f"Round-robin probe (the same two servers behind nginx without stickiness): {p['ok']} of "
                      f"{p['tabs']} tabs logged in; nginx's answers to the kernel websockets, status: count "
                      f"{p['channels']} (101: opened on the server holding the kernel; 404: the other server)."]
    if result.get("note"):
        lines += ["", result["note"]]
    kinds = [k for h in result["halves"] for k in h["error_kinds"]]
    if kinds:
        lines += ["", "Errors seen: " + "; ".join(f"`{k}`" for k in kinds)]
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--switches", type=int, default=6, help="page switches per session")
    parser.add_argument("--halves", default="one,two", help="one, two or both (comma-separated)")
    parser.add_argument("--probe-tabs", type=int, default=4, help="tabs for the round-robin probe (0: none)")
    parser.add_argument("--write", type=Path, default=None, help="docs/performance.md to write the section to")
    args = parser.parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} is missing", file=sys.stderr)
        return 2
    result = run(args.sessions, args.switches, [h.strip() for h in args.halves.split(",")], args.probe_tabs)
    command = "PYTHONPATH=$PWD .venv/bin/python benchmarks/bench_load.py " + " ".join(argv or sys.argv[1:])
    text = section(result, command.strip())
    print(text)
    if args.write:
        write_section(args.write, SECTION, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

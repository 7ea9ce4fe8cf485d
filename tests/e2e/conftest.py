"""End-to-end fixtures: the real server in a subprocess, headless system Chromium via Playwright.

Fixtures
--------
``live_server`` (session)  a :class:`LiveServer`: ``base_url``, ``home`` (its ``VISION_HOME``),
                           ``env``, ``log_path``, ``health()``, ``kernels()``, ``wait_for_kernels()``.
``server`` (session)       the base URL string, e.g. ``"http://127.0.0.1:41234/"``.
``browser`` (session)      a Playwright ``Browser`` (``/usr/bin/chromium``, headless).
``context`` / ``page``     a fresh browser context and page per test (cookies never leak between
                           tests); afterwards its tabs are closed like a user closes them
                           (``beforeunload`` runs, so their kernels are shut down): see ``close_tabs``.
``open_dashboard``         ``open_dashboard(page) -> page``: load the dashboard, wait for the login form.

The server is started exactly as a user would (``python -m vision_widgets serve --port N``) after
``python -m vision_widgets init`` created the database in a temporary ``VISION_HOME``. Readiness
is polled on ``/vision/api/health`` only: a GET of the dashboard page would take a kernel.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The login form is usable when this input is on the page (views/login.py).
LOGIN_USERNAME = 'input[placeholder="Username"]'
STARTUP_TIMEOUT = 90.0
PAGE_TIMEOUT_MS = 60_000


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 5.0) -> dict:
    with urllib.request.urlopen(url, timeout=timeout) as resp:  # noqa: S310 — localhost only
        return json.loads(resp.read().decode("utf-8"))


@dataclass
class LiveServer:
    """A ``vision serve`` subprocess and what the tests need to know about it."""

    base_url: str
    home: Path
    env: dict[str, str]
    log_path: Path
    proc: subprocess.Popen = field(repr=False)

    def url(self, path: str = "") -> str:
        return self.base_url + path.lstrip("/")

    def health(self) -> dict:
        return get_json(self.url("vision/api/health"))

    def kernels(self) -> dict:
        """``{"running", "pool_size", "pool_ready", "pool_starting"}`` from the health endpoint."""
        return self.health()["kernels"]

    def wait_for_kernels(self, predicate: Callable[[dict], bool], timeout: float = 60.0) -> dict:
        """Poll the kernel counts until ``predicate(counts)`` holds; return the last counts."""
        deadline = time.monotonic() + timeout
        counts = self.kernels()
        while not predicate(counts) and time.monotonic() < deadline:
            time.sleep(0.25)
            counts = self.kernels()
        return counts

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")


def server_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: this venv, a private ``VISION_HOME``, no proxies."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(VISION_HOME=str(home), PYTHONUNBUFFERED="1", **extra)
    return env


def start_server(
    home: Path,
    log_path: Path,
    *,
    args: list[str] | None = None,
    env_extra: dict[str, str] | None = None,
    init: bool = True,
) -> LiveServer:
    """Run ``vision init`` then ``vision serve`` (or ``python -m vision_widgets.server args``).

    Waits for ``/vision/api/health`` to answer with a full kernel pool; raises if the process dies.
    """
    env = server_env(home, **(env_extra or {}))
    if init and os.environ.get("VISION_E2E_SKIP_INIT") != "1":
        done = subprocess.run(
            [sys.executable, "-m", "vision_widgets", "init"],
            cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(
                "`vision init` failed (set VISION_E2E_SKIP_INIT=1 to run without it):\n"
                + done.stdout + done.stderr
            )
    port = free_port()
    cmd = [sys.executable, "-m", "vision_widgets", "serve", "--port", str(port)]
    if args is not None:
        cmd = [sys.executable, "-m", "vision_widgets.server", "--port", str(port), *args]
    log_file = open(log_path, "w", encoding="utf-8")  # noqa: SIM115 — closed with the process
    proc = subprocess.Popen(
        cmd, cwd=REPO_ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True
    )
    log_file.close()
    server = LiveServer(f"http://127.0.0.1:{port}/", home, env, log_path, proc)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}:\n{server.log()}")
        try:
            counts = server.kernels()
            if counts["pool_ready"] >= counts["pool_size"]:
                return server
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"server not healthy after {STARTUP_TIMEOUT}s:\n{server.log()}")
        time.sleep(0.25)


def stop_server(server: LiveServer, grace: float = 20.0) -> int:
    """SIGTERM (the server shuts its kernels down), then SIGKILL the group after ``grace`` s."""
    proc = server.proc
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    return proc.returncode


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("vision-e2e")
    server = start_server(root / "home", root / "server.log")
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def server(live_server: LiveServer) -> str:
    """Base URL of the running server, ending with ``/``."""
    return live_server.base_url


@pytest.fixture(scope="session")
def browser():
    pw_sync = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")
    with pw_sync.sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def close_tabs(ctx, wait: float = 3.0) -> None:
    """Close every page as a user closing the tab would (``beforeunload`` runs, so the page's
    kernel-shutdown beacon is sent), wait until they are gone, then close the context."""
    pages = [p for p in ctx.pages if not p.is_closed()]
    for p in pages:
        try:
            p.close(run_before_unload=True)
        except Exception:
            pass
    deadline = time.monotonic() + wait
    while any(not p.is_closed() for p in pages) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # let the beacon leave before the context's network stack goes away
    ctx.close()


@pytest.fixture
def context(browser):
    ctx = browser.new_context()
    ctx.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        yield ctx
    finally:
        close_tabs(ctx)


@pytest.fixture
def page(context):
    return context.new_page()


@pytest.fixture
def open_dashboard(server: str) -> Callable:
    """``open_dashboard(page)``: navigate to the dashboard and wait until the login form shows."""

    def _open(page, url: str | None = None):
        page.goto(url or server, wait_until="commit")
        page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)
        return page

    return _open

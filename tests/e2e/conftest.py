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

import time
from pathlib import Path
from typing import Callable, Iterator

import pytest

from tests.support.server_process import (  # noqa: F401 — re-exported for the e2e tests
    CHROMIUM,
    CHROMIUM_ARGS,
    LOGIN_USERNAME,
    REPO_ROOT,
    LiveServer,
    free_port,
    get_json,
    server_env,
    running_server,
    start_server,
    stop_server,
)

PAGE_TIMEOUT_MS = 60_000


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_server(tmp_path_factory.mktemp("vision-e2e")) as server:
        yield server


@pytest.fixture(scope="session")
def server(live_server: LiveServer) -> str:
    """Base URL of the running server, ending with ``/``."""
    return live_server.base_url


@pytest.fixture(scope="package")
def browser():
    """One Chromium for the e2e package, closed when it ends: Playwright's sync API runs an asyncio
    loop in the main thread while it is open, and tests after the e2e package (``asyncio.run``,
    code that defers to a running loop) must not find one."""
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


@pytest.fixture(scope="module")
def demo_live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A real server whose database holds the five demo models (``vision init --demo``), on small
    demo files written first (so ``init --demo`` keeps them), one per test module."""
    import subprocess
    import sys

    from vision_widgets.demo import datasets

    root = tmp_path_factory.mktemp("vision-e2e-demo")
    home = root / "home"
    datasets.write_files(home / "demo-data", train_rows=3000, weekly_rows=500)
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "init", "--demo"], cwd=REPO_ROOT,
                          env=server_env(home), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError("`vision init --demo` failed:\n" + done.stdout + done.stderr)
    with running_server(root, init=False) as server:
        yield server

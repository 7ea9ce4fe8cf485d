"""End to end: a kernel lives as long as its browser, give or take the disconnect grace.

One server for the module with a short grace (5 s) and a culling pass every second, so that what
takes minutes in production takes seconds here:

* tabs that vanish without ``beforeunload`` (the browser is SIGKILLed) free their kernels within
  grace + one pass (+ the time to stop them);
* a page whose connection drops and comes back within the grace keeps its kernel and works.
"""
from __future__ import annotations

import re
import time
from typing import Iterator

import pytest

from tests.support.killable_chromium import killable_chromium
from tests.support.server_process import LiveServer, running_server
from tests.support.tcp_proxy import FlakyProxy

pytestmark = pytest.mark.e2e

GRACE = 5
CULL_INTERVAL = 1
TABS = 30
PAGE_TIMEOUT_MS = 60_000
#: Stopping 30 kernel processes on a shared two-core machine takes a few seconds.
SHUTDOWN_MARGIN = 20.0
VANISHED = "its browser left and did not come back"


@pytest.fixture(scope="module")
def short_grace_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"VISION_KERNEL_DISCONNECT_GRACE": str(GRACE), "VISION_KERNEL_CULL_INTERVAL": str(CULL_INTERVAL)}
    with running_server(tmp_path_factory.mktemp("vision-e2e-grace"), env_extra=env) as server:
        yield server


def open_login_form(page, url: str):
    page.goto(url, wait_until="commit")
    page.get_by_placeholder("Username").wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
    return page


def wait_for_log(server: LiveServer, pattern: str, start: int, timeout: float) -> str:
    """Poll the server log (from byte ``start``) until ``pattern`` appears; return the new text."""
    deadline = time.monotonic() + timeout
    while True:
        text = server.log()[start:]
        if re.search(pattern, text) or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


def test_a_page_survives_a_network_blip_shorter_than_the_grace(short_grace_server, browser):
    server = short_grace_server
    port = int(server.base_url.rstrip("/").rsplit(":", 1)[1])
    proxy = FlakyProxy(port)
    ctx = browser.new_context()
    ctx.set_default_timeout(PAGE_TIMEOUT_MS)
    try:
        page = open_login_form(ctx.new_page(), proxy.url)
        mark = len(server.log())
        proxy.drop()  # the connection is lost ...
        seen = wait_for_log(server, r"its browser disconnected", mark, timeout=10)
        assert "its browser disconnected" in seen, "the server never saw the websocket close"
        # ... for a while (the outage itself, not a wait): two culling passes run meanwhile, but it is
        # shorter than the grace.
        time.sleep(GRACE / 2)
        proxy.restore()  # ... and comes back: the page reconnects to the same kernel
        page.get_by_placeholder("Username").fill("datascientist_user")
        page.get_by_placeholder("Password").fill("ds_user123")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="My account").wait_for(state="visible")
        assert VANISHED not in server.log()[mark:]
    finally:
        ctx.close()
        proxy.close()


def test_vanished_tabs_free_their_kernels_within_the_grace(short_grace_server, browser):
    server = short_grace_server
    pool = server.wait_for_kernels(lambda k: k["pool_ready"] >= k["pool_size"], timeout=90)["pool_size"]
    baseline = server.wait_for_kernels(lambda k: k["running"] <= pool, timeout=60)["running"]
    assert baseline == pool
    with killable_chromium(browser.browser_type) as chrome:
        started = time.monotonic()
        for _ in range(TABS):
            ctx = chrome.browser.new_context()
            ctx.set_default_timeout(PAGE_TIMEOUT_MS)
            open_login_form(ctx.new_page(), server.base_url)
        loaded = time.monotonic() - started
        counts = server.wait_for_kernels(lambda k: k["pool_ready"] >= k["pool_size"], timeout=90)
        # Every tab still has its kernel, though the first ones have been idle far past the grace.
        assert counts["running"] - counts["pool_ready"] >= TABS, counts
        mark = len(server.log())
        chrome.kill()  # no beforeunload, no beacon: the tabs just vanish
        killed = time.monotonic()
    limit = GRACE + CULL_INTERVAL + SHUTDOWN_MARGIN
    counts = server.wait_for_kernels(
        lambda k: k["running"] <= baseline and k["pool_ready"] >= k["pool_size"], timeout=limit
    )
    freed = time.monotonic() - killed
    print(f"\n{TABS} tabs loaded in {loaded:.1f} s; kernels back to the pool {freed:.1f} s after the kill "
          f"(grace {GRACE} s, pass every {CULL_INTERVAL} s)")
    assert counts["running"] == baseline, f"{counts} {freed:.1f} s after the kill"
    log = server.log()[mark:]
    assert log.count(VANISHED) >= TABS
    assert "never reached an 'alive' state" not in server.log()

"""End-to-end tests of the web server: health, page load, no outside requests, file access, kernels."""
from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import urlsplit

import pytest

from .conftest import LOGIN_USERNAME, REPO_ROOT, close_tabs, get_json, server_env

pytestmark = pytest.mark.e2e


def status_of(url: str) -> int:
    """HTTP status of a GET without following redirects (a redirect counts as its own status)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(url, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_health_is_json_and_starts_no_kernel(live_server):
    before = live_server.kernels()
    for _ in range(5):
        body = get_json(live_server.url("vision/api/health"))
    assert body["status"] == "ok"
    assert body["version"]
    assert set(body["kernels"]) == {"running", "pool_size", "pool_ready", "pool_starting"}
    assert body["kernels"]["pool_size"] >= 1
    assert live_server.kernels()["running"] == before["running"]
    # No kernel ids: an id is what lets a browser talk to a kernel.
    assert "-" not in str(body["kernels"])


def test_page_renders_login_form(page, open_dashboard):
    open_dashboard(page)
    assert page.locator(LOGIN_USERNAME).is_editable()
    assert page.locator('input[type="password"]').count() == 1
    assert page.get_by_role("button", name="Log in").is_visible()
    # Source cells are stripped: no code of the notebook reaches the page.
    assert "VisionApp" not in page.content()


def test_page_loads_nothing_from_outside_the_server(context, server, open_dashboard):
    origin = urlsplit(server).netloc
    requested: list[str] = []
    context.on("request", lambda req: requested.append(req.url))
    page = context.new_page()
    open_dashboard(page)
    page.wait_for_load_state("networkidle")
    outside = [u for u in requested if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).netloc != origin]
    assert requested, "no request recorded"
    assert outside == []


def test_page_headers_set_csp_and_xsrf_cookie(page, server):
    response = page.goto(server, wait_until="commit")
    page.wait_for_selector(LOGIN_USERNAME, state="visible")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp and "connect-src 'self'" in csp
    # The tab-close beacon posts the value of this cookie (voila #1458).
    assert any(c["name"] == "_xsrf" for c in page.context.cookies())


@pytest.mark.parametrize(
    "path",
    [
        "voila/files/dashboard.ipynb",
        "voila/files/../users.json",
        "voila/files/%2E%2E/users.json",
        "voila/files/..%2Fusers.json",
        "voila/files/../.vision/vision.db",
        "voila/files/.vision/vision.db",
        "voila/files/../vision_widgets/server.py",
        "voila/files/%2E%2E/vision_widgets/server.py",
        "voila/files/users.json",
        "voila/files/x.py",
        "voila/files/.ipynb_checkpoints/dashboard-checkpoint.ipynb",
        "voila/templates/../../../../../etc/passwd",
        "voila/static/../../../../etc/passwd",
    ],
)
def test_files_route_refuses_code_data_and_notebooks(server, path):
    assert status_of(server + path) in (400, 403, 404)


@pytest.mark.parametrize("path", ["api/kernels", "api/contents", "api/sessions", "api/kernelspecs", "api/terminals"])
def test_no_jupyter_rest_api(server, path):
    # Standalone Voila: no listing of kernels, files, sessions or terminals. (In single-notebook
    # mode Voila redirects unknown paths to /voila/files/<path>, which refuses them.)
    code = status_of(server + path)
    assert code in (302, 403, 404, 405)
    if code == 302:
        assert status_of(server + "voila/files/" + path) in (403, 404)


def test_kernel_delete_is_not_exposed(live_server):
    req = urllib.request.Request(live_server.url("api/kernels/00000000-0000-0000-0000-000000000000"), method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=10)
    assert err.value.code == 405


def test_twenty_tabs_opened_and_closed_leave_only_the_pool(live_server, browser, open_dashboard):
    pool = live_server.wait_for_kernels(lambda k: k["pool_ready"] >= k["pool_size"])["pool_size"]
    baseline = live_server.kernels()["running"]
    for i in range(20):
        ctx = browser.new_context()
        try:
            open_dashboard(ctx.new_page())  # every load shows the login form
        finally:
            close_tabs(ctx)  # as a user closing the tab: beforeunload fires, the beacon is sent
    counts = live_server.wait_for_kernels(
        lambda k: k["running"] <= baseline and k["pool_ready"] >= k["pool_size"], timeout=90
    )
    assert counts["pool_ready"] == pool
    assert counts["running"] == baseline, counts
    log = live_server.log()
    assert "_xsrf' argument missing" not in log
    assert "never reached an 'alive' state" not in log


def test_unwritable_home_stops_serve_with_message(tmp_path):
    if os.geteuid() == 0:
        # root writes through permissions: make the home a path under a regular file instead.
        blocker = tmp_path / "not-a-folder"
        blocker.write_text("x")
        home = blocker / "home"
    else:
        home = tmp_path / "ro"
        home.mkdir()
        home.chmod(0o500)
    env = server_env(home)
    done = subprocess.run(
        [sys.executable, "-m", "vision_widgets", "serve", "--port", "1"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    assert "VISION_HOME" in done.stderr and "cannot be written" in done.stderr
    assert "Traceback" not in done.stderr

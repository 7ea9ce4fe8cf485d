"""End-to-end tests of the web server: health, page load, no outside requests, file access, kernels."""
from __future__ import annotations

import http.client
import json
import os
import re
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path
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


def raw_status(live_server, method: str, path: str) -> int:
    """Status of ``method path`` sent as is (no client-side quoting or redirect following)."""
    host, port = urlsplit(live_server.base_url).netloc.split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
@pytest.mark.parametrize(
    "path",
    ["/voila/render/%00", "/%01", "/%00", "/a%7F", "/voila/tree/%0a", "/api/kernels/%00", "/voila/files/%1b",
     "/voila/static/x%0d%0aSet-Cookie:%20a=b"],
)
def test_paths_with_control_characters_answer_400(live_server, method, path):
    assert raw_status(live_server, method, path) == 400
    assert "Unsafe header value" not in live_server.log()


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_logout_does_not_exist(live_server, method):
    # Vision logs in and out inside the page; Jupyter's logout page cannot render here (it was a 500).
    assert raw_status(live_server, method, "/logout") == 404


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Unix domain sockets")
def test_kernels_talk_to_the_server_over_unix_sockets_in_a_private_folder(live_server, page, open_dashboard):
    sockets: list[str] = []
    page.on("websocket", lambda ws: sockets.append(ws.url))
    open_dashboard(page)  # the page's kernel works over them: the login form is a live widget
    kernel_id = next(m.group(1) for u in sockets if (m := re.search(r"/api/kernels/([0-9a-f-]{36})/channels", u)))
    found = re.search(r"Storing connection files in (\S+)\.$", live_server.log(), re.MULTILINE)
    assert found, "the server did not log its connection folder"
    folder = Path(found.group(1))
    mode = folder.stat()
    assert stat.S_IMODE(mode.st_mode) & 0o077 == 0, oct(mode.st_mode)  # only the owner may enter
    assert mode.st_uid == os.getuid()  # the server runs as this user
    infos = {f.name: json.loads(f.read_text()) for f in folder.glob("kernel-*.json")}
    assert {info["transport"] for info in infos.values()} == {"ipc"}  # the pool's kernels too
    info = infos[f"kernel-{kernel_id}.json"]
    assert info["ip"] == str(folder / f"kernel-{kernel_id}-ipc")
    for name in ("shell_port", "iopub_port", "stdin_port", "control_port", "hb_port"):
        assert stat.S_ISSOCK(os.stat(f"{info['ip']}-{info[name]}").st_mode), name
    assert "running over TCP without encryption" not in live_server.log()


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

"""Server pieces that need no browser: configuration, routes, file rules, pool-aware culling."""
from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import sys
import tempfile
import threading
from datetime import timedelta

import nbformat
import pytest
import tornado.httpclient
import tornado.web

from vision_widgets import server as srv
from vision_widgets.core.config import load_settings
from vision_widgets.core.errors import ConfigurationError


def run_async(coro_fn):
    """Run ``coro_fn()`` on a fresh event loop in its own thread (Playwright's sync API may hold a
    running loop in the main thread when e2e tests share the session)."""
    result = {}

    def target():
        try:
            result["value"] = asyncio.run(coro_fn())
        except BaseException as exc:  # noqa: BLE001 — re-raised in the caller
            result["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join(60)
    if "error" in result:
        raise result["error"]
    return result.get("value")


@pytest.fixture
def settings(tmp_path):
    return load_settings({"VISION_HOME": str(tmp_path / "home")})


@pytest.fixture
def notebook(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("1")]
    path = tmp_path / "nb" / "one.ipynb"
    path.parent.mkdir()
    nbformat.write(nb, path)
    return path


def test_config_defaults_are_safe(settings):
    c = srv.build_config(settings, settings.host, settings.port)
    assert c.Voila.ip == "127.0.0.1" and c.Voila.port == 8866
    assert c.Voila.port_retries == 0 and c.Voila.open_browser is False
    vc = c.VoilaConfiguration
    assert vc.strip_sources is True and vc.show_tracebacks is False
    assert vc.preheat_kernel is True and vc.default_pool_size == settings.kernel_pool_size
    assert vc.allow_template_override == "NO" and vc.allow_theme_override == "NO"
    assert c.VisionVoila.cull_idle_timeout == settings.kernel_cull_idle_seconds


def test_pool_size_zero_disables_preheating(tmp_path):
    s = load_settings({"VISION_HOME": str(tmp_path), "VISION_KERNEL_POOL": "0"})
    assert srv.build_config(s, s.host, s.port).VoilaConfiguration.preheat_kernel is False


def _served(path: str) -> bool:
    """Voila's AllowListFileHandler rule: at least one allow pattern and no deny pattern."""
    allowed = any(re.fullmatch(p, path, re.IGNORECASE) for p in srv.FILE_ALLOWLIST)
    denied = any(re.fullmatch(p, path, re.IGNORECASE) for p in srv.FILE_DENYLIST)
    return allowed and not denied


@pytest.mark.parametrize("path", ["logo.png", "chart.SVG", "icon.ico"])
def test_images_beside_the_notebook_are_served(path):
    assert _served(path)


@pytest.mark.parametrize(
    "path",
    [
        "dashboard.ipynb", "server.py", "users.json", "../users.json", ".vision/vision.db",
        "vision.db", ".env", "sub/logo.png", "../logo.png", ".hidden.png", "users.png",
        "x.PY", "notes.txt", "config.yml",
    ],
)
def test_code_data_notebooks_and_subfolders_are_refused(path):
    assert not _served(path)


def test_make_app_refuses_an_unwritable_home(tmp_path, notebook):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    bad = load_settings({"VISION_HOME": str(blocker / "home")})
    with pytest.raises(ConfigurationError, match="VISION_HOME"):
        srv.make_app(bad, notebook=notebook)


def test_make_app_refuses_a_missing_notebook(settings, tmp_path):
    with pytest.raises(ConfigurationError, match="not found"):
        srv.make_app(settings, notebook=tmp_path / "missing.ipynb")


def test_routes_put_the_api_first_and_harden_voila(tmp_path, notebook):
    s = load_settings({"VISION_HOME": str(tmp_path / "home"), "VISION_KERNEL_POOL": "0"})
    app = srv.make_app(s, port=0, notebook=notebook)
    app.connection_dir = str(tmp_path / "conn")
    app.init_settings()
    handlers = app.init_handlers()
    patterns = [h[0] for h in handlers]
    classes = [h[1] for h in handlers]
    assert patterns[0] == "/vision/api/health" and classes[0] is srv.HealthHandler
    assert classes[-1] is srv.DashboardHandler  # Voila's catch-all comes last
    # Paths with control characters answer 400 before any Voila route sees them (after the API's own).
    guard = classes.index(srv.BadPathHandler)
    assert all(p.startswith("/vision/api/") for p in patterns[:guard])
    assert not any(p.startswith("/vision/api/") for p in patterns[guard + 1:])
    logout = [h for h in handlers if h[0].endswith("/logout")]
    assert all(h[1] is tornado.web.ErrorHandler and h[2] == {"status_code": 404} for h in logout)
    assert srv.KernelModelHandler in classes
    files = next(h for h in handlers if h[0].endswith("/voila/files/(.*)"))
    assert files[2]["allowlist"] == srv.FILE_ALLOWLIST and files[2]["denylist"] == srv.FILE_DENYLIST
    assert files[2]["path"] == str(notebook.parent)
    assert srv.TEMPLATE_DIR.as_posix() == app.template_paths[0]
    assert isinstance(app.kernel_manager, srv.PoolAwareCulling)
    assert app.kernel_manager.cull_idle_timeout == s.kernel_cull_idle_seconds
    assert app.kernel_manager.cull_connected is False


def test_template_loads_nothing_from_a_cdn():
    text = (srv.TEMPLATE_DIR / "index.html.j2").read_text()
    assert "block notebook_css" in text and "block html_head_js_mermaidjs" in text
    assert not re.search(r"(href|src)=\"https?://", text)


def test_api_handlers_are_extensible():
    class Echo(srv.VisionAPIHandler):
        def get(self):
            self.write_json({"ok": True})

    srv.API_HANDLERS.append(("echo", Echo))
    try:
        specs = srv.api_handlers(server=None)
        assert ("/vision/api/echo", Echo, {"server": None, "ctx": None}) in specs
        assert specs[0][0] == "/vision/api/health"
    finally:
        srv.API_HANDLERS.remove(("echo", Echo))


class FakeServer:
    def kernel_stats(self):
        return {"running": 3, "pool_size": 2, "pool_ready": 2, "pool_starting": 0}


def test_health_handler_answers_json():
    async def run():
        app = tornado.web.Application(srv.api_handlers(FakeServer()))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        http = app.listen(port, "127.0.0.1")
        try:
            client = tornado.httpclient.AsyncHTTPClient()
            resp = await client.fetch(f"http://127.0.0.1:{port}/vision/api/health", raise_error=False)
            missing = await client.fetch(f"http://127.0.0.1:{port}/vision/api/nope", raise_error=False)
            return resp, missing
        finally:
            http.stop()

    resp, missing = run_async(run)
    body = json.loads(resp.body)
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["Cache-Control"] == "no-store"
    # No database behind this fake server: the critical database check fails (503), the counts still answer.
    assert resp.code == 503 and body["status"] == "fail" and body["kernels"]["running"] == 3
    assert missing.code == 404


# ---- pool-aware culling, over a fake of Voila's pooled kernel manager --------------------------
class FakeKernel:
    def __init__(self, idle_seconds: float):
        from jupyter_server._tz import utcnow

        self.last_activity = utcnow() - timedelta(seconds=idle_seconds)
        self.execution_state = "idle"


class FakeVoilaManager:
    """What PoolAwareCulling relies on: _pools of tasks, _kernels, jupyter_server's connection
    counter, and the hooks it overrides."""

    def __init__(self):
        import logging

        self.log = logging.getLogger("fake")
        self._pools = {}
        self._kernels = {}
        self._kernel_connections = {}
        self.culled_by_base: list[str] = []
        self.shut_down: list[str] = []

    async def get_rendered_notebook(self, notebook_name, **kwargs):
        task = self._pools[notebook_name].pop(0)
        return None, [], (await task)["kernel_id"]

    def notify_connect(self, kernel_id):
        if kernel_id in self._kernel_connections:
            self._kernel_connections[kernel_id] += 1

    def notify_disconnect(self, kernel_id):
        if kernel_id in self._kernel_connections:
            self._kernel_connections[kernel_id] -= 1

    async def cull_kernel_if_idle(self, kernel_id):
        # Like jupyter_server: idle longer than the timeout (10 s here) and no connection -> shut down.
        from jupyter_server._tz import utcnow

        idle = utcnow() - self._kernels[kernel_id].last_activity > timedelta(seconds=10)
        if idle and not self._kernel_connections.get(kernel_id):
            self.culled_by_base.append(kernel_id)
            await self.shutdown_kernel(kernel_id)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self.shut_down.append(kernel_id)
        self.remove_kernel(kernel_id)

    def remove_kernel(self, kernel_id):
        self._kernel_connections.pop(kernel_id, None)
        return self._kernels.pop(kernel_id, None)


class Manager(srv.PoolAwareCulling, FakeVoilaManager):
    pass


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _done(kernel_id):
    fut = asyncio.get_running_loop().create_future()
    fut.set_result({"kernel_id": kernel_id})
    return fut


def _manager(*kernel_ids, idle_seconds: float = 0, clock: Clock | None = None) -> Manager:
    km = Manager()
    km.clock = clock or Clock()
    km._kernels = {k: FakeKernel(idle_seconds) for k in kernel_ids}
    km._kernel_connections = {k: 0 for k in kernel_ids}
    km._pools = {"nb": [_done(k) for k in kernel_ids]}
    return km


def test_pooled_kernel_is_never_culled_and_handout_refreshes_activity():
    async def run():
        km = _manager("a", "b", idle_seconds=3600)
        await km.cull_kernel_if_idle("a")
        await km.cull_kernel_if_idle("b")
        assert km.shut_down == []  # both wait in the pool
        _, _, kid = await km.get_rendered_notebook("nb")
        assert kid == "a"
        await km.cull_kernel_if_idle("a")  # idled an hour in the pool, handed out just now
        assert km.shut_down == [], "a kernel handed to a page must not be culled before it connects"

    run_async(run)


def test_kernel_no_browser_connects_to_is_reclaimed():
    async def run():
        clock = Clock()
        km = _manager("a", clock=clock)
        km.orphan_timeout = 120
        await km.get_rendered_notebook("nb")  # e.g. curl of the dashboard URL
        clock.advance(119)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == []
        clock.advance(2)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == ["a"] and km.culled_by_base == []
        assert km.attendance("a") == srv.Attendance(), "a removed kernel is forgotten"

    run_async(run)


def test_a_connected_tab_is_never_culled_however_idle():
    async def run():
        clock = Clock()
        km = _manager("a", idle_seconds=3600, clock=clock)
        await km.get_rendered_notebook("nb")
        km.notify_connect("a")
        km._kernels["a"].last_activity -= timedelta(hours=5)  # idle far past cull_idle_timeout
        clock.advance(5 * 3600)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == [] and km.culled_by_base == []

    run_async(run)


def test_a_vanished_tab_is_shut_down_after_the_grace_not_the_idle_timeout():
    async def run():
        clock = Clock()
        km = _manager("a", clock=clock)
        km.disconnect_grace = 120
        await km.get_rendered_notebook("nb")
        km.notify_connect("a")
        clock.advance(30)
        km.notify_disconnect("a")  # browser killed: its websocket closed, no beacon
        clock.advance(120)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == [], "within the grace the page may still come back"
        clock.advance(1)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == ["a"] and km.culled_by_base == []

    run_async(run)


def test_a_network_blip_keeps_the_kernel_even_when_it_was_idle_long():
    async def run():
        clock = Clock()
        km = _manager("a", clock=clock)
        km.disconnect_grace = 120
        await km.get_rendered_notebook("nb")
        km.notify_connect("a")
        km._kernels["a"].last_activity -= timedelta(hours=1)  # jupyter_server's rule alone would cull it now
        clock.advance(3600)
        km.notify_disconnect("a")  # the blip
        clock.advance(3)
        await km.cull_kernel_if_idle("a")  # a cull pass during the blip
        km.notify_connect("a")  # the page reconnects
        clock.advance(1000)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == [] and km.culled_by_base == []
        assert km.attendance("a").disconnected_at is None

    run_async(run)


def test_a_kernel_stays_while_any_of_its_websockets_is_open():
    async def run():
        clock = Clock()
        km = _manager("a", clock=clock)
        km.disconnect_grace = 10
        await km.get_rendered_notebook("nb")
        km.notify_connect("a")
        km.notify_connect("a")
        km.notify_disconnect("a")
        clock.advance(60)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == []
        km.notify_disconnect("a")
        clock.advance(11)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == ["a"]

    run_async(run)


def test_a_disconnect_after_shutdown_does_not_bring_the_kernel_back():
    async def run():
        km = _manager("a")
        await km.get_rendered_notebook("nb")
        km.notify_connect("a")
        await km.shutdown_kernel("a")  # the tab-close beacon
        km.notify_disconnect("a")  # then its websocket closes
        assert km.attendance("a") == srv.Attendance()

    run_async(run)


def test_a_culling_pass_stops_vanished_kernels_together():
    async def run():
        clock = Clock()
        ids = [f"k{i}" for i in range(5)]
        km = _manager(*ids, clock=clock)
        km.disconnect_grace, km.cull_concurrency = 5, 3
        stopping, release = [], asyncio.Event()
        base_shutdown = km.shutdown_kernel

        async def slow_shutdown(kernel_id, *args, **kwargs):
            stopping.append(kernel_id)
            await release.wait()
            await base_shutdown(kernel_id)

        km.shutdown_kernel = slow_shutdown
        for kid in ids:
            await km.get_rendered_notebook("nb")
            km.notify_connect(kid)
            km.notify_disconnect(kid)
        clock.advance(6)
        cull = asyncio.ensure_future(km.cull_kernels())
        for _ in range(100):
            if len(stopping) >= 3:
                break
            await asyncio.sleep(0)
        assert len(stopping) == 3, "three at a time, not one after the other"
        release.set()
        await cull
        assert sorted(km.shut_down) == ids and km._kernels == {}

    run_async(run)


def _verdict(attendance, **kw):
    args = {"pooled": False, "dead": False, "connections": 0, "now": 1000.0, "orphan_timeout": 120,
            "disconnect_grace": 60}
    return srv.cull_verdict(attendance, **{**args, **kw})


V = srv.CullVerdict


@pytest.mark.parametrize(
    "attendance, kw, expected",
    [
        (srv.Attendance(), {"pooled": True}, V.KEEP),
        (srv.Attendance(handed_out_at=0.0), {"pooled": True}, V.KEEP),
        (srv.Attendance(handed_out_at=0.0, connected_once=True), {"connections": 1}, V.KEEP),
        (srv.Attendance(handed_out_at=0.0, connected_once=True, disconnected_at=950.0), {}, V.KEEP),
        (srv.Attendance(handed_out_at=0.0, connected_once=True, disconnected_at=939.0), {}, V.SHUT_DOWN_DISCONNECTED),
        (srv.Attendance(connected_once=True, disconnected_at=939.0), {}, V.SHUT_DOWN_DISCONNECTED),  # no pool
        (srv.Attendance(handed_out_at=900.0), {}, V.IDLE_RULE),  # still waiting for its browser
        (srv.Attendance(handed_out_at=879.0), {}, V.SHUT_DOWN_ORPHAN),
        (srv.Attendance(), {}, V.IDLE_RULE),  # started outside the pool, never connected
        (srv.Attendance(handed_out_at=0.0, connected_once=True), {"dead": True, "connections": 1}, V.IDLE_RULE),
    ],
)
def test_cull_verdict(attendance, kw, expected):
    assert _verdict(attendance, **kw) is expected


def test_pool_counts():
    async def run():
        km = Manager()
        pending = asyncio.get_running_loop().create_future()
        km._pools = {"nb": [_done("a"), pending]}
        assert km.pooled_kernel_ids() == {"a"} and km.pool_pending() == 1
        pending.cancel()

    run_async(run)


# ---- settings and configuration of the culling and the kernel transport ------------------------
def test_disconnect_grace_and_cull_interval_settings(tmp_path):
    s = load_settings({"VISION_HOME": str(tmp_path)})
    assert s.kernel_disconnect_grace_seconds == 120 and s.kernel_cull_interval_seconds == 30
    s = load_settings({"VISION_HOME": str(tmp_path), "VISION_KERNEL_DISCONNECT_GRACE": "5"})
    assert s.kernel_cull_interval_seconds == 1, "the default pass interval follows a short grace"
    s = load_settings({"VISION_HOME": str(tmp_path), "VISION_KERNEL_CULL_INTERVAL": "7"})
    assert s.kernel_cull_interval_seconds == 7
    with pytest.raises(ConfigurationError, match="VISION_KERNEL_DISCONNECT_GRACE=4 is below the minimum 5"):
        load_settings({"VISION_HOME": str(tmp_path), "VISION_KERNEL_DISCONNECT_GRACE": "4"})
    with pytest.raises(ConfigurationError, match="VISION_KERNEL_CULL_INTERVAL=0"):
        load_settings({"VISION_HOME": str(tmp_path), "VISION_KERNEL_CULL_INTERVAL": "0"})


def test_config_carries_culling_settings_and_ipc_transport(tmp_path):
    s = load_settings({"VISION_HOME": str(tmp_path), "VISION_KERNEL_DISCONNECT_GRACE": "45",
                       "VISION_KERNEL_CULL_INTERVAL": "9"})
    c = srv.build_config(s, s.host, s.port)
    assert c.VisionVoila.cull_interval == 9 and c.VisionVoila.disconnect_grace == 45.0
    if sys.platform.startswith("linux"):
        assert c.KernelManager.transport == "ipc"
        root = c.Voila.connection_dir_root
        assert os.path.isdir(root) and len(root) + srv._IPC_PATH_SUFFIX <= srv.UNIX_SOCKET_PATH_MAX


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Unix sockets")
def test_ipc_falls_back_to_tmp_when_the_temp_folder_is_too_deep(tmp_path):
    deep = tmp_path / ("d" * 90)
    deep.mkdir()
    assert srv.kernel_transport(str(deep)) == ("ipc", "/tmp")
    short = tempfile.mkdtemp(prefix="v", dir="/tmp")
    try:
        assert srv.kernel_transport(short) == ("ipc", short)
    finally:
        os.rmdir(short)


@pytest.mark.parametrize(
    "path, bad",
    [
        ("/%00", True), ("/voila/render/%00", True), ("/%01", True), ("/a%7f", True), ("/x%0A/y", True),
        ("/%1F", True), ("/", False), ("/x%20y", False), ("/%E2%82%AC", False), ("/%2500", False),
        ("/voila/files/logo.png", False),
    ],
)
def test_control_characters_in_a_path_are_recognised(path, bad):
    assert bool(re.match(srv.CONTROL_CHARACTER_PATH + "$", path)) is bad

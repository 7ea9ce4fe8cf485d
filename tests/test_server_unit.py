"""Server pieces that need no browser: configuration, routes, file rules, pool-aware culling."""
from __future__ import annotations

import asyncio
import json
import re
import socket
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
            resp = await client.fetch(f"http://127.0.0.1:{port}/vision/api/health")
            missing = await client.fetch(f"http://127.0.0.1:{port}/vision/api/nope", raise_error=False)
            return resp, missing
        finally:
            http.stop()

    resp, missing = run_async(run)
    body = json.loads(resp.body)
    assert resp.headers["Content-Type"].startswith("application/json")
    assert resp.headers["Cache-Control"] == "no-store"
    assert body["status"] == "ok" and body["kernels"]["running"] == 3
    assert missing.code == 404


# ---- pool-aware culling, over a fake of Voila's pooled kernel manager --------------------------
class FakeKernel:
    def __init__(self, idle_seconds: float):
        from jupyter_server._tz import utcnow

        self.last_activity = utcnow() - timedelta(seconds=idle_seconds)
        self.execution_state = "idle"


class FakeVoilaManager:
    """What PoolAwareCulling relies on: _pools of tasks, _kernels, and the hooks it overrides."""

    def __init__(self):
        import logging

        self.log = logging.getLogger("fake")
        self._pools = {}
        self._kernels = {}
        self.culled_by_base: list[str] = []
        self.shut_down: list[str] = []

    async def get_rendered_notebook(self, notebook_name, **kwargs):
        task = self._pools[notebook_name].pop(0)
        return None, [], (await task)["kernel_id"]

    def notify_connect(self, kernel_id):
        pass

    async def cull_kernel_if_idle(self, kernel_id):
        # Like jupyter_server: idle longer than the timeout (10 s here) and no connection -> shut down.
        from jupyter_server._tz import utcnow

        if utcnow() - self._kernels[kernel_id].last_activity > timedelta(seconds=10):
            self.culled_by_base.append(kernel_id)
            await self.shutdown_kernel(kernel_id)

    async def shutdown_kernel(self, kernel_id, *args, **kwargs):
        self.shut_down.append(kernel_id)
        self._kernels.pop(kernel_id, None)


class Manager(srv.PoolAwareCulling, FakeVoilaManager):
    pass


def _done(kernel_id):
    fut = asyncio.get_running_loop().create_future()
    fut.set_result({"kernel_id": kernel_id})
    return fut


def test_pooled_kernel_is_never_culled_and_handout_refreshes_activity():
    async def run():
        km = Manager()
        km._kernels = {"a": FakeKernel(3600), "b": FakeKernel(3600)}
        km._pools = {"nb": [_done("a"), _done("b")]}
        await km.cull_kernel_if_idle("a")
        await km.cull_kernel_if_idle("b")
        assert km.shut_down == []  # both wait in the pool
        _, _, kid = await km.get_rendered_notebook("nb")
        assert kid == "a"
        await km.cull_kernel_if_idle("a")  # idled an hour in the pool, handed out just now
        assert km.shut_down == [], "a kernel handed to a page must not be culled before it connects"
        km.notify_connect("a")
        km._kernels["a"].last_activity -= timedelta(seconds=60)
        await km.cull_kernel_if_idle("a")  # connected, then really idle: ordinary culling applies
        assert km.culled_by_base == ["a"]

    run_async(run)


def test_kernel_no_browser_connects_to_is_reclaimed():
    async def run():
        km = Manager()
        km.orphan_timeout = 0.0
        km._kernels = {"a": FakeKernel(0)}
        km._pools = {"nb": [_done("a")]}
        await km.get_rendered_notebook("nb")  # e.g. curl of the dashboard URL
        await asyncio.sleep(0.01)
        await km.cull_kernel_if_idle("a")
        assert km.shut_down == ["a"] and km.culled_by_base == []

    run_async(run)


def test_pool_counts():
    async def run():
        km = Manager()
        pending = asyncio.get_running_loop().create_future()
        km._pools = {"nb": [_done("a"), pending]}
        assert km.pooled_kernel_ids() == {"a"} and km.pool_pending() == 1
        pending.cancel()

    run_async(run)

"""The web server: Voila's standalone app serving the dashboard, plus ``/vision/api/*``.

``vision serve`` runs one tornado process that

* renders ``web/notebooks/dashboard.ipynb`` for every tab, each tab in its own kernel, taken from a
  preheated pool so the login form appears at once;
* strips source cells and hides tracebacks (views show their own clear messages);
* answers ``GET /vision/api/health`` without touching a kernel (monitors and test fixtures poll it);
* serves nothing from ``/voila/files`` but images beside the notebook;
* loads nothing from outside the server (no CDN in the page template).

It also fixes the Voila 0.5 traps listed in ``docs/server.md``: the tab-close shutdown beacon that
was refused (no ``_xsrf`` cookie), pooled kernels culled as they were handed to a page, kernels
orphaned by plain GETs, the CDN links in the template, kernels kept for ten minutes by tabs that
vanished (and culled under tabs still open), 500s for paths with control characters and for
``/logout``, and kernels on unencrypted loopback TCP (Unix sockets instead). Standalone Voila (not the
jupyter-server extension) is used on purpose: the browser can send comm messages to its kernel,
never code, and no other Jupyter REST endpoint exists.

Later work adds endpoints by appending ``(suffix, HandlerClass)`` to :data:`API_HANDLERS`; each
handler receives the running :class:`VisionVoila` as ``self.server``.
"""
from __future__ import annotations

import asyncio
import enum
import logging
import os
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import tornado.ioloop
import tornado.web
from jupyter_server.services.kernels.handlers import KernelHandler
from jupyter_server.utils import url_path_join
from traitlets import Float, Instance, Int, Unicode
from traitlets.config import Config
from voila.app import Voila
from voila.request_info_handler import RequestInfoSocketHandler
from voila.static_file_handler import AllowListFileHandler, TemplateStaticFileHandler
from voila.tornado.handler import TornadoVoilaHandler
from voila.voila_kernel_manager import voila_kernel_manager_factory

from vision_widgets.api import API_PREFIX, HealthHandler  # noqa: F401 - re-exported for tests
from vision_widgets.api import HANDLERS as API_HANDLERS
from vision_widgets.api import JSONHandler as VisionAPIHandler  # noqa: F401 - base of every endpoint
from vision_widgets.api.session import COOKIE_NAME as SESSION_COOKIE
from vision_widgets.api.session import RESUME_EXPIRED, RESUME_HEADER, clear_session_cookie
from vision_widgets.core.config import Settings, ensure_home, load_settings, package_path
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConfigurationError, SessionExpired
from vision_widgets.core.storage.upgrade import upgrade as upgrade_schema

log = logging.getLogger(__name__)

#: The notebook ``vision serve`` shows (package data, so any working directory will do).
DASHBOARD_NOTEBOOK = package_path("web", "notebooks", "dashboard.ipynb")
#: Jinja templates shipped with the package (the CDN-free page template).
TEMPLATE_DIR = package_path("web", "templates", "vision")

#: ``/voila/files/<path>`` serves only images (the notebook may show a logo) ...
FILE_ALLOWLIST = [r"[^/\\]+\.(png|jpg|jpeg|gif|svg|ico)"]
#: ... and never notebooks, code, account data, the Vision home or any dotted path.
FILE_DENYLIST = [
    r".*\.(ipynb|py|pyc|json|db|sqlite|sqlite3|env|cfg|ini|toml|yml|yaml)",
    r"(.*[/\\])?\..*",  # dot files and dot folders (.vision/, .git/, .env)
    r".*users.*",
]

#: Content-Security-Policy of the dashboard page. Voila's page and the widget manager need inline
#: scripts and ``eval`` (widget model code), styles set inline, images/fonts from data: and blob:.
#: Everything else must come from this server: nothing can be loaded from or sent to a third party.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
)


# --------------------------------------------------------------------------------------------
# /vision/api handlers (defined in the vision_widgets/api/ package)
# --------------------------------------------------------------------------------------------
def api_handlers(server: "VisionVoila", base_url: str = "/", ctx: Context | None = None) -> list[tuple]:
    """The tornado URL specs for every entry of :data:`API_HANDLERS`, under ``base_url``."""
    return [
        (url_path_join(base_url, API_PREFIX, suffix), handler, {"server": server, "ctx": ctx})
        for suffix, handler in API_HANDLERS
    ]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("vision_widgets")
    except Exception:  # running from a checkout that was never installed
        return "0+unknown"


# --------------------------------------------------------------------------------------------
# Voila handlers, hardened
# --------------------------------------------------------------------------------------------
class DashboardHandler(TornadoVoilaHandler):
    """Voila's page handler with the ``_xsrf`` cookie set and a strict Content-Security-Policy.

    The page's ``beforeunload`` beacon (``POST /voila/api/shutdown/<kernel>``) sends the value of
    the ``_xsrf`` cookie, but Voila renders its page outside Jupyter's template helpers, so that
    cookie was never set: the beacon got 403 and every closed tab kept its kernel (voila #1458).
    Reading ``self.xsrf_token`` sets the cookie on this response, before the first flush.
    """

    @property
    def content_security_policy(self) -> str:
        return CONTENT_SECURITY_POLICY

    async def prepare(self) -> None:
        await super().prepare()
        self.xsrf_token  # noqa: B018 — the property sets the _xsrf cookie as a side effect
        await self._pass_session_to_kernel()

    async def _pass_session_to_kernel(self) -> None:
        """Turn the request's session cookie into a single-use resume code for this tab's kernel.

        The code travels in the :data:`RESUME_HEADER` request header, which Voila hands to the kernel
        (``http_header_envs``: an environment variable, or for a preheated kernel the request-info
        message that ``voila.utils.wait_for_request`` receives). The cookie itself never reaches the
        kernel. A header of that name sent by the browser is dropped first; a cookie whose session has
        ended is cleared, and the kernel is told so (the login form says the session expired).
        """
        self.request.headers.pop(RESUME_HEADER, None)
        token = self.get_cookie(SESSION_COOKIE)
        ctx = self.settings.get("vision_context")
        if self.request.method != "GET" or not token or ctx is None:
            return
        from vision_widgets.services import sessions

        try:
            code = await asyncio.get_running_loop().run_in_executor(
                None, sessions.resume_code_for_cookie, ctx, token)
        except SessionExpired:
            clear_session_cookie(self, ctx.settings.public_url)
            code = RESUME_EXPIRED
        except Exception:  # noqa: BLE001 - a database hiccup shows the login form, not a 500
            log.exception("resuming a session from its cookie failed")
            return
        self.request.headers[RESUME_HEADER] = code


class TemplateStaticHandler(TemplateStaticFileHandler):
    """Voila's template static files, answering 404 (not an assertion's 500) to malformed paths."""

    def parse_url_path(self, path: str) -> str:
        parts = path.split("/", 2)
        if len(parts) != 3 or parts[1] != "static" or ".." in path.split("/"):
            raise tornado.web.HTTPError(404)
        return super().parse_url_path(path)


class KernelModelHandler(KernelHandler):
    """``/api/kernels/<id>``: only the GET the page needs (its kernel's model), not DELETE."""

    SUPPORTED_METHODS = ("GET",)  # type: ignore[assignment]


#: A path holding a percent-encoded control character (C0 or DEL). Routes match the path still
#: encoded, so this catches ``/%00``, ``/voila/render/%0a``, ``/a%7F`` ... before Voila does: no
#: route of this app takes one, and Voila's catch-all put the decoded path into a redirect's
#: ``Location`` header, which tornado refuses (500).
CONTROL_CHARACTER_PATH = r"/.*%(?:[01][0-9A-Fa-f]|7[Ff]).*"


class BadPathHandler(tornado.web.RequestHandler):
    """Any method on a :data:`CONTROL_CHARACTER_PATH`: 400, logged as a warning, no traceback."""

    def prepare(self) -> None:
        raise tornado.web.HTTPError(400, "control character in the path")


# --------------------------------------------------------------------------------------------
# Kernel pool and culling
# --------------------------------------------------------------------------------------------
#: Websocket keep-alive: a ping every 15 s, closed after 45 s without a pong. A browser that
#: vanished without closing its socket (lid shut, network gone) is noticed within a minute, and
#: its disconnect grace starts then (jupyter_server's defaults are 30 s and 90 s).
WS_PING_INTERVAL_MS = 15_000
WS_PING_TIMEOUT_MS = 45_000
#: How often the server records its own health checks (uptime, kernels) for the Monitoring page.
HEALTH_RECORD_MS = 60_000

#: Linux's limit on a Unix socket path (``sun_path`` is 108 bytes with the final NUL).
UNIX_SOCKET_PATH_MAX = 107
#: What a kernel's socket path adds to the connection root: ``/voila_XXXXXXXX`` (Voila's mkdtemp)
#: then ``/kernel-<36-character id>-ipc-<n>``, with room to spare.
_IPC_PATH_SUFFIX = 70


def kernel_transport(tmp_root: str | None = None) -> tuple[str, str | None]:
    """``("ipc", root)`` where kernels can talk to the server over Unix sockets, else ``("tcp", None)``.

    With IPC each kernel's sockets are files ``<connection dir>/kernel-<id>-ipc-<n>`` in the
    private folder (mode 0700) that Voila creates under ``root`` for the connection files: no TCP
    port is opened, and only the server's user can reach a kernel. ``root`` is the temporary folder
    (``TMPDIR``), or ``/tmp`` when that is too deep for a socket path. Each kernel's ``ip`` (the
    socket path prefix) is derived from its own connection file, so two kernels starting at once
    never pick the same socket names. Where Unix sockets are not available, loopback TCP remains.
    """
    import zmq

    if os.name != "posix" or not zmq.has("ipc"):
        return "tcp", None
    for root in (tmp_root or tempfile.gettempdir(), "/tmp"):
        if os.path.isdir(root) and len(os.path.abspath(root)) + _IPC_PATH_SUFFIX <= UNIX_SOCKET_PATH_MAX:
            return "ipc", os.path.abspath(root)
    return "tcp", None


class CullVerdict(enum.Enum):
    """What a culling pass does with one kernel (see :func:`cull_verdict`)."""

    KEEP = "keep"
    SHUT_DOWN_ORPHAN = "no browser ever connected"
    SHUT_DOWN_DISCONNECTED = "its browser left and did not come back"
    IDLE_RULE = "jupyter_server's idle rule decides"


@dataclass(frozen=True)
class Attendance:
    """What the culler knows about one kernel's browser; times are ``time.monotonic()`` seconds.

    Replaced (never mutated) when something happens: a hand-out from the pool, a websocket that
    opens, the last websocket that closes.
    """

    handed_out_at: float | None = None
    connected_once: bool = False
    #: When its last websocket closed; ``None`` while one is open (or none ever opened).
    disconnected_at: float | None = None


def cull_verdict(
    attendance: Attendance,
    *,
    pooled: bool,
    dead: bool,
    connections: int,
    now: float,
    orphan_timeout: float,
    disconnect_grace: float,
) -> CullVerdict:
    """Decide one kernel's fate in a culling pass (pure: the caller passes the clock's ``now``).

    * waiting in the pool: kept;
    * dead: jupyter_server's rule (which removes dead kernels);
    * a browser connected right now: kept, however long it has been idle — a tab is never culled
      under its user;
    * its browser was connected and left (tab killed, browser crashed, network lost): shut down once
      it has stayed away longer than ``disconnect_grace``, kept until then (a network blip or a
      laptop waking up reconnects to the same kernel, with the page's state intact);
    * handed to a page that never connected for longer than ``orphan_timeout`` (a plain GET): shut down;
    * anything else (e.g. a kernel started without the pool): jupyter_server's idle rule.
    """
    if pooled:
        return CullVerdict.KEEP
    if dead:
        return CullVerdict.IDLE_RULE
    if connections > 0:
        return CullVerdict.KEEP
    if attendance.connected_once and attendance.disconnected_at is not None:
        if now - attendance.disconnected_at > disconnect_grace:
            return CullVerdict.SHUT_DOWN_DISCONNECTED
        return CullVerdict.KEEP
    if (
        not attendance.connected_once
        and attendance.handed_out_at is not None
        and now - attendance.handed_out_at > orphan_timeout
    ):
        return CullVerdict.SHUT_DOWN_ORPHAN
    return CullVerdict.IDLE_RULE


class PoolAwareCulling:
    """Mixin over Voila's ``VoilaKernelManager``: culling that follows the browser, not the clock.

    jupyter_server's culler shuts a kernel down after ``cull_idle_timeout`` seconds without
    activity and without a connection. That is both too slow and too eager here: a tab that
    vanished without its ``beforeunload`` beacon (killed browser, lost network) kept its kernel for
    the full idle timeout, while a tab left idle that lost its network for a second could be culled
    under its user. So, per kernel, with :func:`cull_verdict` deciding:

    * a kernel still in the pool is never culled (Voila checks that too, but its loop mutates
      the pool while iterating it);
    * a kernel handed from the pool to a page gets fresh activity: it may have idled in the pool
      longer than ``cull_idle_timeout``; without this the next cull pass shut it down before the
      page's websocket connected ("Kernel never reached an 'alive' state");
    * a handed-out kernel that no browser connects to within ``orphan_timeout`` seconds (a plain
      GET from a script or monitor) is shut down;
    * a kernel whose browser connected and then went away (its last websocket closed, as counted by
      jupyter_server's ``notify_connect``/``notify_disconnect``) is shut down when it has not come
      back within ``disconnect_grace`` seconds; a connected kernel is never culled.
    """

    orphan_timeout: float = 120.0
    disconnect_grace: float = 120.0
    #: Kernels a culling pass checks and stops at the same time. Stopping one takes about half a
    #: second; after an office's network dropped, one pass may have hundreds to stop.
    cull_concurrency: int = 8
    #: Monotonic seconds; tests replace it with a fake clock.
    clock: Callable[[], float] = time.monotonic

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Before super().__init__: Voila's pooled manager starts kernels from its constructor.
        self._attendance: dict[str, Attendance] = {}
        super().__init__(*args, **kwargs)

    def attendance(self, kernel_id: str) -> Attendance:
        """What is known about ``kernel_id``'s browser (an empty record for an unknown kernel)."""
        return self._attendance.get(kernel_id, Attendance())

    def connection_count(self, kernel_id: str) -> int:
        """Open websockets to ``kernel_id``, as jupyter_server counts them (its culler reads the same)."""
        return self._kernel_connections.get(kernel_id, 0)

    def pooled_kernel_ids(self) -> set[str]:
        """Ids of kernels that are started, rendered and waiting in a pool."""
        ids = set()
        for pool in getattr(self, "_pools", {}).values():
            for task in list(pool):
                if task.done() and not task.cancelled() and task.exception() is None:
                    ids.add(task.result()["kernel_id"])
        return ids

    def pool_pending(self) -> int:
        """Pool entries whose kernel is still starting or rendering."""
        return sum(1 for pool in getattr(self, "_pools", {}).values() for t in pool if not t.done())

    async def get_rendered_notebook(self, *args: Any, **kwargs: Any):
        render_task, rendered_cache, kernel_id = await super().get_rendered_notebook(*args, **kwargs)
        self._attendance[kernel_id] = replace(self.attendance(kernel_id), handed_out_at=self.clock())
        kernel = self._kernels.get(kernel_id)
        if kernel is not None:
            from jupyter_server._tz import utcnow

            kernel.last_activity = utcnow()
        return render_task, rendered_cache, kernel_id

    def notify_connect(self, kernel_id: str) -> None:
        super().notify_connect(kernel_id)
        if kernel_id in self._kernels:
            self._attendance[kernel_id] = replace(
                self.attendance(kernel_id), connected_once=True, disconnected_at=None
            )

    def notify_disconnect(self, kernel_id: str) -> None:
        super().notify_disconnect(kernel_id)
        if kernel_id in self._kernels and self.connection_count(kernel_id) <= 0:
            self._attendance[kernel_id] = replace(self.attendance(kernel_id), disconnected_at=self.clock())
            self.log.info(
                "Kernel %s: its browser disconnected; shut down in %s s unless it reconnects.",
                kernel_id,
                self.disconnect_grace,
            )

    async def cull_kernels(self) -> None:
        """One culling pass (jupyter_server's checks kernels one after the other, and so stops them
        one after the other: 30 vanished tabs took 15 s to free)."""
        limit = asyncio.Semaphore(self.cull_concurrency)

        async def check(kernel_id: str) -> None:
            async with limit:
                try:
                    await self.cull_kernel_if_idle(kernel_id)
                except Exception:
                    self.log.exception("Culling check of kernel %s failed.", kernel_id)

        await asyncio.gather(*(check(kernel_id) for kernel_id in list(self._kernels)))

    async def cull_kernel_if_idle(self, kernel_id: str) -> None:
        kernel = self._kernels.get(kernel_id)
        if kernel is None:
            return
        verdict = cull_verdict(
            self.attendance(kernel_id),
            pooled=kernel_id in self.pooled_kernel_ids(),
            dead=getattr(kernel, "execution_state", None) == "dead",  # set by jupyter_server, not declared
            connections=self.connection_count(kernel_id),
            now=self.clock(),
            orphan_timeout=self.orphan_timeout,
            disconnect_grace=self.disconnect_grace,
        )
        if verdict is CullVerdict.KEEP:
            return
        if verdict is CullVerdict.IDLE_RULE:
            await super().cull_kernel_if_idle(kernel_id)
            return
        self.log.warning("Shutting down kernel %s: %s.", kernel_id, verdict.value)
        await self.shutdown_kernel(kernel_id)

    def remove_kernel(self, kernel_id: str):
        # Every way out (shutdown, the beacon, a dead kernel) ends here.
        self._attendance.pop(kernel_id, None)
        # Voila keeps a pooled kernel's request info (headers, query) that no kernel asked for, forever.
        RequestInfoSocketHandler._cache.pop(kernel_id, None)
        return super().remove_kernel(kernel_id)


def pooled_kernel_manager_class(base: type, pool_size: int, page_config_hook=None) -> type:
    """Voila's pooled kernel manager over ``base``, with :class:`PoolAwareCulling` on top."""
    voila_cls = voila_kernel_manager_factory(base, True, pool_size, page_config_hook=page_config_hook)
    return type("VisionKernelManager", (PoolAwareCulling, voila_cls), {})


# --------------------------------------------------------------------------------------------
# The app
# --------------------------------------------------------------------------------------------
class VisionVoila(Voila):
    """Voila's standalone app configured for Vision AI (see the module docstring)."""

    name = "vision"
    vision_settings = Instance(Settings, allow_none=True)
    cull_idle_timeout = Int(600, help="Seconds a kernel with no browser connected may idle.").tag(config=True)
    cull_interval = Int(60, help="Seconds between two culling passes.").tag(config=True)
    orphan_timeout = Float(120.0, help="Seconds a handed-out kernel may wait for its browser.").tag(config=True)
    disconnect_grace = Float(
        120.0, help="Seconds a kernel whose browser disconnected waits for it to reconnect."
    ).tag(config=True)
    extra_template_dir = Unicode(str(TEMPLATE_DIR))

    def setup_template_dirs(self) -> None:
        super().setup_template_dirs()
        # Our index.html.j2 shadows the lab template's (same name, searched first).
        if self.extra_template_dir and self.extra_template_dir not in self.template_paths:
            self.template_paths.insert(0, self.extra_template_dir)

    def init_settings(self) -> dict:
        conf = self.voila_configuration
        preheat, pool_size = conf.preheat_kernel, conf.default_pool_size
        # Build Voila's settings without its pooled manager (whose constructor starts kernels at
        # once), then build the pooled manager ourselves with the culling fixes on top.
        conf.preheat_kernel = False
        try:
            settings = super().init_settings()
        finally:
            conf.preheat_kernel = preheat
        if preheat:
            cls = pooled_kernel_manager_class(
                conf.multi_kernel_manager_class, pool_size, page_config_hook=conf.page_config_hook
            )
        else:
            cls = type("VisionKernelManager", (PoolAwareCulling, self.kernel_manager.__class__), {})
        self.kernel_manager = cls(
            parent=self,
            connection_dir=self.connection_dir,
            kernel_spec_manager=self.kernel_spec_manager,
            allowed_message_types=[
                "comm_open",
                "comm_close",
                "comm_msg",
                "comm_info_request",
                "kernel_info_request",
                "shutdown_request",
            ],
            cull_idle_timeout=self.cull_idle_timeout,
            cull_interval=self.cull_interval,
            cull_connected=False,
            cull_busy=False,
        )
        self.kernel_manager.orphan_timeout = self.orphan_timeout
        self.kernel_manager.disconnect_grace = self.disconnect_grace
        settings["kernel_manager"] = self.kernel_manager
        # The dashboard handler reads the session cookie (resume codes for new tabs).
        settings["vision_context"] = self.vision_context()
        # Notice a browser that vanished without closing its websocket (lid shut, network gone).
        settings["ws_ping_interval"] = WS_PING_INTERVAL_MS
        settings["ws_ping_timeout"] = WS_PING_TIMEOUT_MS
        if self.connection_dir and os.path.isdir(self.connection_dir):
            # Connection files (with each kernel's HMAC key) and the kernels' IPC sockets live here:
            # Voila makes it with mkdtemp (0700); keep it that way whatever created it.
            os.chmod(self.connection_dir, 0o700)
        return settings

    def init_handlers(self) -> list:
        handlers = []
        for spec in super().init_handlers():
            pattern, handler, *rest = spec
            if handler is KernelHandler:
                handler = KernelModelHandler
            elif handler is TornadoVoilaHandler:
                handler = DashboardHandler
            elif handler is TemplateStaticFileHandler:
                handler = TemplateStaticHandler
            elif handler is AllowListFileHandler:
                rest = [{**rest[0], "allowlist": FILE_ALLOWLIST, "denylist": FILE_DENYLIST}]
            elif handler in (self.identity_provider.login_handler_class, self.identity_provider.logout_handler_class):
                # No Jupyter login in this app (Vision logs in inside the page); Jupyter's logout page
                # cannot render here (it answered 500).
                handler, rest = tornado.web.ErrorHandler, [{"status_code": 404}]
            handlers.append((pattern, handler, *rest))
        server_url = self.server_url or self.base_url
        bad_paths = [(url_path_join(server_url, CONTROL_CHARACTER_PATH), BadPathHandler)]
        self._start_health_recorder()
        # Prepended: Voila's last route matches every path.
        return api_handlers(self, server_url, ctx=self.vision_context()) + bad_paths + handlers

    def vision_context(self) -> Context:
        """The services' context for the API handlers (one database engine per server process)."""
        if getattr(self, "_vision_context", None) is None:
            self._vision_context = Context.open(self.vision_settings or load_settings())
        return self._vision_context

    # -- health: what only this process knows (uptime, its kernels) -------------------------------
    def _start_health_recorder(self) -> None:
        """Record this server's own checks now and every ``HEALTH_RECORD_MS`` (docs/decisions.md, Monitoring)."""
        if getattr(self, "_health_recorder", None) is not None:
            return
        self._started = time.monotonic()
        loop = tornado.ioloop.IOLoop.current()
        self._health_recorder = tornado.ioloop.PeriodicCallback(self._record_health, HEALTH_RECORD_MS)
        self._health_recorder.start()
        loop.add_callback(self._record_health)

    async def _record_health(self) -> None:
        from vision_widgets.services import monitoring

        found = self.server_checks()
        try:
            await tornado.ioloop.IOLoop.current().run_in_executor(
                None, monitoring.record_server_checks, self.vision_context(), found)
        except Exception:  # noqa: BLE001 - the database check reports an outage; the server carries on
            log.warning("could not record the server's health checks", exc_info=True)

    def server_checks(self) -> list:
        """Uptime and the open kernels with their memory (``core.monitoring.checks.server``; no kernel id)."""
        from vision_widgets.core.monitoring import checks

        stats = self.kernel_stats()
        km = getattr(self, "kernel_manager", None)
        memory = None
        if km is not None:
            sizes = [_resident_bytes(km, kid) for kid in km.list_kernel_ids()]
            known = [s for s in sizes if s is not None]
            memory = sum(known) if known or not sizes else None
        uptime = time.monotonic() - getattr(self, "_started", time.monotonic())
        return checks.server(uptime, stats["running"], memory, stats["pool_size"])

    def kernel_stats(self) -> dict:
        """Counts for the health endpoint: running kernels and the pool (no ids)."""
        km = getattr(self, "kernel_manager", None)
        if km is None:
            return {"running": 0, "pool_size": 0, "pool_ready": 0, "pool_starting": 0}
        return {
            "running": len(km.list_kernel_ids()),
            "pool_size": self.voila_configuration.default_pool_size if self.voila_configuration.preheat_kernel else 0,
            "pool_ready": len(km.pooled_kernel_ids()),
            "pool_starting": km.pool_pending(),
        }


def _resident_bytes(km, kernel_id: str) -> int | None:
    """Resident memory of one kernel's process (Linux ``/proc``), ``None`` when it cannot be read."""
    try:
        pid = km.get_kernel(kernel_id).provisioner.pid
        with open(f"/proc/{int(pid)}/statm", encoding="ascii") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except Exception:  # noqa: BLE001 - another OS, a kernel that just exited
        return None


def build_config(settings: Settings, host: str, port: int) -> Config:
    """The traitlets configuration of :class:`VisionVoila` for ``settings``."""
    c = Config()
    c.Voila.ip = host
    c.Voila.port = port
    c.Voila.port_retries = 0  # a busy port is an error, not a silent move to another port
    c.Voila.open_browser = False
    c.Voila.config_file_paths = []  # configured by Settings only, never by a stray voila.json
    c.VisionVoila.cull_idle_timeout = settings.kernel_cull_idle_seconds
    c.VisionVoila.cull_interval = settings.kernel_cull_interval_seconds
    c.VisionVoila.disconnect_grace = float(settings.kernel_disconnect_grace_seconds)
    transport, connection_root = kernel_transport()
    c.KernelManager.transport = transport
    if connection_root is not None:
        c.Voila.connection_dir_root = connection_root
    vc = c.VoilaConfiguration
    vc.template = "lab"
    vc.theme = "light"
    vc.strip_sources = True
    vc.show_tracebacks = False
    vc.preheat_kernel = settings.kernel_pool_size > 0
    vc.default_pool_size = settings.kernel_pool_size
    vc.allow_template_override = "NO"
    vc.allow_theme_override = "NO"
    vc.file_allowlist = FILE_ALLOWLIST
    vc.file_denylist = FILE_DENYLIST
    # Only the dashboard handler's own header (a single-use resume code) reaches the kernels: never
    # the Cookie header, which would put the session token in a kernel's environment.
    vc.http_header_envs = [RESUME_HEADER]
    return c


def make_app(
    settings: Settings, host: str | None = None, port: int | None = None, notebook: str | os.PathLike | None = None
) -> VisionVoila:
    """Create and initialise (but do not start) the server for ``settings``.

    Creates or upgrades the database schema first: the API handlers and every kernel only check it.
    Raises ``ConfigurationError`` when ``VISION_HOME`` cannot be written, the notebook is missing or
    the database is at a schema revision this code does not know.
    """
    ensure_home(settings)
    nb = Path(notebook) if notebook is not None else DASHBOARD_NOTEBOOK
    if not nb.is_file():
        raise ConfigurationError(f"Notebook {nb} not found; pass an existing .ipynb file.")
    nb = nb.resolve()
    upgrade_schema(settings)  # before any handler or kernel opens the database
    app = VisionVoila(
        config=build_config(settings, host or settings.host, settings.port if port is None else port),
        vision_settings=settings,
    )
    app.initialize(argv=["--Voila.root_dir=" + str(nb.parent), str(nb)])
    return app


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    notebook: str | os.PathLike | None = None,
    worker: bool = True,
) -> int:
    """Serve the dashboard until SIGINT/SIGTERM; return the process exit status.

    With ``worker`` (the default) a ``vision worker`` runs beside the server as a child process,
    restarted if it dies and stopped with the server, so background jobs need nothing else.

    ``host``/``port`` override ``settings.host``/``settings.port`` (127.0.0.1:8866 by default).
    ``notebook`` replaces the packaged dashboard notebook (tests and benchmarks). An unwritable
    ``VISION_HOME`` raises ``ConfigurationError`` before any port is bound; the CLI prints it and
    exits non-zero.
    """
    app = make_app(settings, host=host, port=port, notebook=notebook)
    from vision_widgets.worker import WorkerProcess

    child = WorkerProcess().start() if worker else None
    try:
        app.start()  # blocks; on SIGTERM/SIGINT shuts every kernel down
    finally:
        if child is not None:
            child.stop()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m vision_widgets.server [--host H] [--port P] [--notebook NB]``.

    The same as ``vision serve`` plus ``--notebook`` (benchmarks and tests serve other notebooks).
    """
    import argparse
    import sys

    from vision_widgets.core.config import load_settings
    from vision_widgets.core.errors import VisionError

    parser = argparse.ArgumentParser(prog="python -m vision_widgets.server")
    parser.add_argument("--host", default=None)
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--notebook", default=None)
    parser.add_argument("--no-worker", dest="worker", action="store_false")
    args = parser.parse_args(argv)
    try:
        return serve(load_settings(), host=args.host, port=args.port, notebook=args.notebook, worker=args.worker)
    except VisionError as exc:
        print(f"vision: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())

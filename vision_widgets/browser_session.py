"""This tab's browser, seen from its kernel: the session it brought back, the page it asked for,
and the session cookie it should keep or drop.

How a session survives a reload (``docs/server.md``, "Sessions that survive a reload"):

1. After a login (over the widget protocol) the kernel puts a single-use *cookie code* in the hidden
   :class:`SessionBridge` label; the page's script posts it to ``POST /vision/api/session``, which
   answers with the ``HttpOnly`` session cookie. The token itself never enters a widget.
2. On a reload the page request brings the cookie; the dashboard handler turns it into a single-use
   *resume code* in the ``X-Vision-Resume`` header, which Voila hands to the new kernel (an
   environment variable, or for a preheated kernel the request info that
   ``voila.utils.wait_for_request`` receives). :func:`when_requested` reads it and the query string
   (``?page=…&model=…``) and calls back on the kernel's main thread.
3. On logout or expiry the bridge asks the page to ``DELETE /vision/api/session`` (revoke, clear).

The login form is displayed before any of this: in the preheated pool the kernel renders it and
then waits, in a background thread, for the request of the tab it is handed to.
"""
from __future__ import annotations

import logging
import os
import secrets
import threading
from dataclasses import dataclass, field
from typing import Callable, Mapping
from urllib.parse import parse_qs

import ipywidgets as w

from vision_widgets.state import AppState

log = logging.getLogger(__name__)

#: Where Voila puts the dashboard handler's ``X-Vision-Resume`` header (``http_header_envs``).
RESUME_ENV = "HTTP_X_VISION_RESUME"
#: The header's value when the cookie's session had ended (see ``api/session.py``).
RESUME_EXPIRED = "expired"
#: What the login form says then.
SESSION_ENDED = "Your session has ended — please log in again."
#: Longest page key and model name read from the URL (anything longer is no page or model here).
MAX_PAGE, MAX_MODEL = 64, 200


@dataclass(frozen=True)
class PageRequest:
    """What the browser's request for this tab carried."""

    resume_code: str = field(default="", repr=False)
    #: The request brought a session cookie whose session had ended.
    session_ended: bool = False
    #: ``?page=`` and ``?model=`` of the URL ("" when absent).
    page: str = ""
    model: str = ""


def parse(environ: Mapping[str, str]) -> PageRequest:
    """The :class:`PageRequest` in a kernel environment (Voila's request variables)."""
    raw = (environ.get(RESUME_ENV) or "").strip()
    query = parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=False)
    page = (query.get("page") or [""])[0].strip()
    model = (query.get("model") or [""])[0].strip()
    return PageRequest(
        resume_code="" if raw == RESUME_EXPIRED else raw,
        session_ended=raw == RESUME_EXPIRED,
        page=page[:MAX_PAGE],
        model=model[:MAX_MODEL],
    )


def _take() -> PageRequest:
    request = parse(os.environ)
    os.environ.pop(RESUME_ENV, None)  # single use: nothing else in this kernel needs it
    return request


def _on_main_thread(fn: Callable[[], None]) -> None:
    """Run ``fn`` on the kernel's main loop (where widget messages are handled), else now."""
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        loop = getattr(kernel, "io_loop", None)
    except Exception:  # noqa: BLE001 - not in a kernel
        loop = None
    if loop is None:
        fn()
    else:
        loop.add_callback(fn)


def when_requested(callback: Callable[[PageRequest], None]) -> None:
    """Call ``callback(request)`` once this tab's request is known, on the kernel's main thread.

    A kernel Voila started for the request already has it in its environment: called at once.
    A preheated kernel (``VOILA_PREHEAT=True``) learns it when Voila hands it to a page; a thread
    waits for that, so the cell that shows the login form finishes at once. Outside Voila
    (JupyterLab) the request is empty and nothing is resumed.
    """

    def deliver() -> None:
        try:
            callback(_take())
        except Exception:  # noqa: BLE001 - the login form stays usable whatever happened
            log.exception("handling this tab's request failed")

    if os.environ.get("VOILA_PREHEAT") != "True":
        deliver()
        return

    def wait() -> None:
        try:
            from voila.utils import wait_for_request

            wait_for_request()
        except Exception:  # noqa: BLE001
            log.exception("waiting for this tab's request failed")
            return
        _on_main_thread(deliver)

    threading.Thread(target=wait, name="vision-page-request", daemon=True).start()


class SessionBridge(w.Label):
    """A hidden label the page's script watches (``.vision-session-bridge``): it tells the browser to
    store the session cookie after a login (``login:<code>``) and to drop it on logout or expiry
    (``logout:<nonce>``). It holds a single-use code, never the session token.
    """

    def __init__(self, state: AppState, **kwargs) -> None:
        super().__init__(value="", layout=w.Layout(display="none"), **kwargs)
        self.add_class("vision-session-bridge")
        self.state = state
        state.observe(self._on_principal, "principal")

    def store(self, code: str) -> None:
        """Ask the page to exchange ``code`` for the session cookie."""
        self.value = f"login:{code}"

    def drop(self) -> None:
        """Ask the page to revoke and clear the session cookie."""
        self.value = f"logout:{secrets.token_hex(8)}"

    def _on_principal(self, change) -> None:
        if change["old"] is not None and change["new"] is None:
            self.drop()

    def close(self) -> None:
        try:
            self.state.unobserve(self._on_principal, "principal")
        except ValueError:  # closed twice (close_tree, then garbage collection)
            pass
        super().close()


# ------------------------------------------------------------------------------------------------
# ?page=…&model=… links
# ------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LinkTarget:
    """Where a link leads this principal: a page key, a model, or a problem to say."""

    page: str = ""
    model: str = ""
    problem: str = ""


#: The page a link with only ``?model=`` opens.
MODEL_PAGE = "models"


def link_target(ctx, state: AppState, request: PageRequest, allowed_pages: tuple[str, ...]) -> LinkTarget:
    """Check a link against what the principal may open; select its model in ``state`` if visible.

    A model the principal may not see and a model that does not exist get the same answer, so a
    link never tells anyone whether someone else's model exists.
    """
    if not (request.page or request.model):
        return LinkTarget()
    key = request.page or MODEL_PAGE
    if key not in allowed_pages:
        return LinkTarget(problem=f"The link asks for a page ({key!r}) that does not exist or that your role "
                                  "may not open; here is your first page instead.")
    if not request.model:
        return LinkTarget(page=key)
    from vision_widgets.services import catalog

    visible = any(s.model.name == request.model
                  for s in catalog.list_models(ctx, state.principal, text=request.model))
    if not visible:
        return LinkTarget(page=key, problem=f"No model named {request.model!r} is open to you; "
                                            "pick one of your models from the list.")
    state.selected_model = request.model
    return LinkTarget(page=key, model=request.model)


def follow(app, target: LinkTarget, built_after: bool = False) -> None:
    """Open ``target``'s page and model in the shell ``app``.

    ``built_after``: the page on show was built after :func:`link_target` selected the model (it
    shows it already); otherwise the page is opened, or told to show the model.
    """
    if target.page and (app.page is None or app.page.key != target.page):
        app.open_page(target.page)
    elif target.model and not built_after and hasattr(app.view, "show"):
        app.view.show(target.model)
    if target.problem:
        app.link_status.error(target.problem)
        app.link_status.layout.display = ""

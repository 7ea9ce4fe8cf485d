"""``/vision/api/session``: the browser's session cookie, set and cleared by the page's own script.

A login happens inside the tab's kernel, over the widget protocol, where no HTTP response can set a
cookie. So the kernel hands the page a single-use *cookie code* (``core/identity/session_codes.py``)
and the page's script (``web/templates/vision/index.html.j2``) exchanges it here:

* ``POST /vision/api/session`` with ``{"code": "..."}`` → 204 and ``Set-Cookie: vision_session=<token>;
  HttpOnly; SameSite=Strict; Path=/`` (``Secure`` over HTTPS, also behind a TLS proxy). A used, expired or unknown code → 401.
* ``DELETE /vision/api/session`` → the cookie's session is revoked (if it is still alive) and the
  cookie cleared; 204 whatever the cookie held (logging out needs no proof).

Both are state-changing requests from the page's own origin, so both require Tornado's XSRF token
(``X-XSRFToken`` header equal to the ``_xsrf`` cookie the dashboard page sets) and, when the browser
sends one, an ``Origin`` equal to the server's: another site cannot post a stolen code to plant its
own session in a victim's browser (login CSRF), nor log a victim out.

The cookie is a browser-session cookie (no ``Expires``): the server decides how long the session
lives (its time to live, renewed by activity), the browser forgets the cookie when it closes.
"""
from __future__ import annotations

import asyncio
import json
from urllib.parse import urlsplit

import tornado.web

from vision_widgets.api.base import JSONHandler
from vision_widgets.core.errors import SessionExpired, VisionError

#: The session cookie's name.
COOKIE_NAME = "vision_session"

#: The header the dashboard handler passes a resume code to the tab's kernel in (through Voila's
#: ``http_header_envs``: it reaches the kernel as ``HTTP_X_VISION_RESUME``). A value the browser
#: sent itself is always removed first.
RESUME_HEADER = "X-Vision-Resume"
#: The value of :data:`RESUME_HEADER` when the request brought a cookie whose session has ended.
RESUME_EXPIRED = "expired"


def is_https(handler: tornado.web.RequestHandler, public_url: str = "") -> bool:
    """Whether cookies must be ``Secure``: the request came over HTTPS, the public URL is https, or a
    TLS-terminating proxy says the browser's request was https (``X-Forwarded-Proto: https``).

    The header is trusted in this direction only: it can make a cookie ``Secure``, never drop the
    flag, so a client that forges it only gets a cookie its own browser will not keep over http.
    The server is not started with tornado's ``xheaders`` (which would also trust ``X-Real-Ip``).
    """
    forwarded = handler.request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return (handler.request.protocol == "https" or forwarded == "https"
            or public_url.lower().startswith("https://"))


def cookie_path(handler: tornado.web.RequestHandler) -> str:
    return handler.settings.get("base_url") or "/"


def set_session_cookie(handler: tornado.web.RequestHandler, token: str, public_url: str = "") -> None:
    """``Set-Cookie`` for the session: ``HttpOnly``, ``SameSite=Strict``, ``Secure`` over HTTPS."""
    handler.set_cookie(COOKIE_NAME, token, path=cookie_path(handler), httponly=True, samesite="Strict",
                       secure=is_https(handler, public_url))


def clear_session_cookie(handler: tornado.web.RequestHandler, public_url: str = "") -> None:
    """Expire the session cookie (same attributes, so every browser replaces it)."""
    handler.clear_cookie(COOKIE_NAME, path=cookie_path(handler), httponly=True, samesite="Strict",
                         secure=is_https(handler, public_url))


class SessionHandler(JSONHandler):
    """Exchange a cookie code for the session cookie (POST); end the session and clear it (DELETE)."""

    def _public_url(self) -> str:
        return getattr(self.ctx.settings, "public_url", "") if self.ctx is not None else ""

    def _check_same_origin(self) -> None:
        self.check_xsrf_cookie()  # 403 unless X-XSRFToken matches the _xsrf cookie
        origin = self.request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc.lower() != self.request.host.lower():
            raise tornado.web.HTTPError(403, "cross-origin request")

    async def post(self) -> None:
        self._check_same_origin()
        try:
            code = json.loads(self.request.body or b"{}").get("code", "")
        except (ValueError, AttributeError):
            code = ""
        if not isinstance(code, str) or not code:
            self.fail(400, "Send {\"code\": ...} as issued by the page after a login.", "code")
            return
        from vision_widgets.services import sessions

        loop = asyncio.get_running_loop()
        try:
            token, _principal = await loop.run_in_executor(None, sessions.cookie_for_code, self.ctx, code)
        except SessionExpired:
            self.fail(401, "This code is used, expired or unknown; log in again.")
            return
        except VisionError as exc:
            self.fail_with(exc)
            return
        set_session_cookie(self, token, self._public_url())
        self.set_status(204)
        self.finish()

    async def delete(self) -> None:
        self._check_same_origin()
        token = self.get_cookie(COOKIE_NAME) or ""
        if token:
            from vision_widgets.services import sessions

            await asyncio.get_running_loop().run_in_executor(None, sessions.logout_token, self.ctx, token)
        clear_session_cookie(self, self._public_url())
        self.set_status(204)
        self.finish()

"""The session's single-use codes (core/identity/session_codes.py), ``/vision/api/session`` over real
HTTP (cookie attributes, XSRF, origin), and the dashboard handler's hand-over to a new kernel."""
from __future__ import annotations

import asyncio
import http.client
import json
import threading
from dataclasses import replace
from datetime import timedelta
from http.cookies import SimpleCookie
from types import SimpleNamespace

import pytest
import tornado.web
from helpers import ADMIN, PASSWORDS, USER
from tornado.httputil import HTTPHeaders

from tests.support.server_process import free_port
from vision_widgets.api.session import COOKIE_NAME, RESUME_EXPIRED, RESUME_HEADER
from vision_widgets.core.context import Context
from vision_widgets.core.errors import SessionExpired
from vision_widgets.core.identity import auth, session_codes, sessions
from vision_widgets.server import DashboardHandler, api_handlers
from vision_widgets.services import sessions as service

XSRF = "0123456789abcdef0123456789abcdef"


def _login(ctx, username=USER):
    return auth.login(ctx, username, PASSWORDS[username])


# -- the codes -------------------------------------------------------------------------------------
def test_a_cookie_code_gives_the_token_once(ctx):
    principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    token, again = service.cookie_for_code(ctx, code)
    assert sessions.token_hash(token) == principal.session_id == again.session_id
    with pytest.raises(SessionExpired):
        service.cookie_for_code(ctx, code)


def test_the_table_alone_never_yields_the_token(ctx):
    session = _login(ctx)
    session_codes.issue_cookie_code(ctx, session.token)
    with ctx.store.read() as conn:
        rows = [dict(r) for r in conn.execute(session_codes.schema.session_codes.select()).mappings()]
    assert len(rows) == 1 and session.token not in str(rows)


def test_an_expired_code_is_worthless(ctx, clock):
    _principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    clock.advance(session_codes.CODE_TTL_SECONDS + 1)
    with pytest.raises(SessionExpired):
        service.cookie_for_code(ctx, code)


@pytest.mark.parametrize("code", ["", "not-a-code", "x" * 500])
def test_a_wrong_code_is_refused(ctx, code):
    service.login_for_browser(ctx, USER, PASSWORDS[USER])
    with pytest.raises(SessionExpired):
        service.cookie_for_code(ctx, code)
    with pytest.raises(SessionExpired):
        service.resume(ctx, code)


def test_a_code_is_worthless_once_its_session_is_revoked(ctx):
    principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    service.logout(ctx, principal)
    with pytest.raises(SessionExpired):
        service.cookie_for_code(ctx, code)
    token = _login(ctx).token
    resume = service.resume_code_for_cookie(ctx, token)
    service.logout_token(ctx, token)
    with pytest.raises(SessionExpired):
        service.resume(ctx, resume)


def test_a_code_only_opens_its_own_door(ctx):
    """A cookie code cannot resume a kernel, nor a resume code set a cookie (and trying burns it)."""
    _principal, cookie_code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    resume_code = service.resume_code_for_cookie(ctx, _login(ctx).token)
    with pytest.raises(SessionExpired):
        service.resume(ctx, cookie_code)
    with pytest.raises(SessionExpired):
        service.cookie_for_code(ctx, resume_code)
    with pytest.raises(SessionExpired):
        service.cookie_for_code(ctx, cookie_code)


def test_a_resume_code_is_single_use_and_renews_the_session(ctx, clock):
    token = _login(ctx).token
    clock.advance(ctx.settings.token_ttl_seconds - 5)
    code = service.resume_code_for_cookie(ctx, token)
    assert service.resume(ctx, code).username == USER
    with pytest.raises(SessionExpired):
        service.resume(ctx, code)
    clock.advance(60)  # past the login's expiry: the resume renewed it
    assert sessions.resume(ctx, token).username == USER


def test_a_cookie_whose_session_expired_gets_no_resume_code(ctx, clock):
    token = _login(ctx).token
    clock.advance(ctx.settings.token_ttl_seconds + 1)
    with pytest.raises(SessionExpired):
        service.resume_code_for_cookie(ctx, token)


@pytest.mark.parametrize("username", [USER, ADMIN])
def test_every_role_keeps_its_session_across_a_reload(ctx, username):
    """The permission matrix of the new service functions: a live session is all they need, for
    every role; what the resumed principal may do is checked by every later service call."""
    principal, code = service.login_for_browser(ctx, username, PASSWORDS[username])
    token, _ = service.cookie_for_code(ctx, code)
    resumed = service.resume(ctx, service.resume_code_for_cookie(ctx, token))
    assert (resumed.username, resumed.role, resumed.session_id) == (username, principal.role, principal.session_id)


# -- POST / DELETE /vision/api/session over HTTP ------------------------------------------------
class Api:
    """The API handlers in an in-process tornado server on a free port."""

    def __init__(self, ctx: Context) -> None:
        self.port = free_port()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(asyncio.new_event_loop())
            tornado.web.Application(api_handlers(SimpleNamespace(), "/", ctx=ctx)).listen(self.port, "127.0.0.1")
            self.loop = tornado.ioloop.IOLoop.current()
            ready.set()
            self.loop.start()

        threading.Thread(target=run, daemon=True).start()
        assert ready.wait(10)

    def request(self, method: str, body: dict | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        conn.request(method, "/vision/api/session", json.dumps(body) if body is not None else None,
                     headers or {})
        response = conn.getresponse()
        return response.status, response.getheader("Set-Cookie") or "", response.read()

    def stop(self) -> None:
        self.loop.add_callback(self.loop.stop)


@pytest.fixture
def api(ctx):
    server = Api(ctx)
    yield server
    server.stop()


def _same_origin(api, **extra) -> dict:
    return {"Cookie": f"_xsrf={XSRF}", "X-XSRFToken": XSRF, "Origin": f"http://127.0.0.1:{api.port}",
            "Content-Type": "application/json", **extra}


def test_the_code_is_exchanged_for_an_httponly_strict_cookie(api, ctx):
    principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    status, set_cookie, _ = api.request("POST", {"code": code}, _same_origin(api))
    assert status == 204
    morsel = SimpleCookie(set_cookie)[COOKIE_NAME]
    assert sessions.token_hash(morsel.value) == principal.session_id
    assert morsel["httponly"] is True and morsel["samesite"] == "Strict" and morsel["path"] == "/"
    assert not morsel["secure"] and not morsel["expires"] and not morsel["max-age"]  # http; a browser-session cookie
    status, set_cookie, body = api.request("POST", {"code": code}, _same_origin(api))
    assert status == 401 and set_cookie == "" and b"used, expired or unknown" in body


def test_an_https_public_url_makes_the_cookie_secure(ctx):
    secure = Context(replace(ctx.settings, public_url="https://vision.example.com/"), ctx.store, ctx.clock)
    server = Api(secure)
    try:
        _principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
        status, set_cookie, _ = server.request("POST", {"code": code}, _same_origin(server))
        assert status == 204 and SimpleCookie(set_cookie)[COOKIE_NAME]["secure"] is True
    finally:
        server.stop()


def test_behind_a_tls_proxy_the_cookie_is_secure_without_a_public_url(api, ctx):
    # nginx terminates TLS and talks http to the server; its X-Forwarded-Proto says the browser used https
    _principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    status, set_cookie, _ = api.request("POST", {"code": code},
                                        _same_origin(api, **{"X-Forwarded-Proto": "https"}))
    assert status == 204 and SimpleCookie(set_cookie)[COOKIE_NAME]["secure"] is True
    # the header can only add the flag: "http" (or a forged value) over plain http leaves it off
    _principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    status, set_cookie, _ = api.request("POST", {"code": code}, _same_origin(api, **{"X-Forwarded-Proto": "http"}))
    assert status == 204 and not SimpleCookie(set_cookie)[COOKIE_NAME]["secure"]


@pytest.mark.parametrize("drop", ["X-XSRFToken", "Cookie"])
def test_without_the_xsrf_token_nothing_happens(api, ctx, drop):
    _principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    headers = _same_origin(api)
    del headers[drop]
    status, set_cookie, _ = api.request("POST", {"code": code}, headers)
    assert status == 403 and set_cookie == ""
    assert service.cookie_for_code(ctx, code)  # the code was not spent


def test_another_origin_cannot_plant_a_session(api, ctx):
    _principal, code = service.login_for_browser(ctx, USER, PASSWORDS[USER])
    status, set_cookie, _ = api.request("POST", {"code": code}, _same_origin(api, Origin="https://evil.example"))
    assert status == 403 and set_cookie == ""


@pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 7}])
def test_a_post_without_a_code_is_a_400(api, body):
    status, _, response = api.request("POST", body, _same_origin(api))
    assert status == 400 and json.loads(response)["field"] == "code"


def test_delete_revokes_the_cookies_session_and_clears_it(api, ctx):
    token = _login(ctx).token
    status, set_cookie, _ = api.request("DELETE", headers={**_same_origin(api), "Cookie": f"_xsrf={XSRF}; "
                                                                                        f"{COOKIE_NAME}={token}"})
    assert status == 204
    cleared = SimpleCookie(set_cookie)[COOKIE_NAME]
    assert cleared.value == "" and cleared["expires"] and cleared["httponly"] is True
    with pytest.raises(SessionExpired):
        sessions.resume(ctx, token)
    status, _, _ = api.request("DELETE", headers={"Cookie": f"{COOKIE_NAME}={_login(ctx).token}"})
    assert status == 403  # logging someone out from another site needs the XSRF token too


# -- the dashboard handler hands a resume code to the kernel --------------------------------------
class FakePageRequest:
    """What ``DashboardHandler._pass_session_to_kernel`` uses of a tornado handler."""

    def __init__(self, ctx, cookie: str | None, headers: dict | None = None) -> None:
        self.request = SimpleNamespace(method="GET", headers=HTTPHeaders(headers or {}), protocol="http")
        self.settings = {"vision_context": ctx, "base_url": "/"}
        self._cookie = cookie
        self.cleared: list[str] = []

    def get_cookie(self, name: str):
        return self._cookie if name == COOKIE_NAME else None

    def clear_cookie(self, name: str, **kwargs) -> None:
        self.cleared.append(name)


def _pass(fake) -> None:
    asyncio.run(DashboardHandler._pass_session_to_kernel(fake))


def test_a_live_cookie_becomes_a_resume_code_for_the_kernel(ctx):
    fake = FakePageRequest(ctx, _login(ctx).token)
    _pass(fake)
    assert service.resume(ctx, fake.request.headers[RESUME_HEADER]).username == USER
    assert fake.cleared == []


def test_a_dead_cookie_is_cleared_and_the_kernel_told_so(ctx, clock):
    fake = FakePageRequest(ctx, _login(ctx).token)
    clock.advance(ctx.settings.token_ttl_seconds + timedelta(seconds=1).total_seconds())
    _pass(fake)
    assert fake.request.headers[RESUME_HEADER] == RESUME_EXPIRED and fake.cleared == [COOKIE_NAME]


def test_a_resume_header_sent_by_the_browser_never_reaches_the_kernel(ctx):
    forged = service.resume_code_for_cookie(ctx, _login(ctx, ADMIN).token)
    fake = FakePageRequest(ctx, None, {RESUME_HEADER: forged})
    _pass(fake)
    assert RESUME_HEADER not in fake.request.headers

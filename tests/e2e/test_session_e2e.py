"""End to end in Chromium: a session survives a reload through an HttpOnly, SameSite=Strict cookie;
logout and expiry end it; ``?page=…&model=…`` links open the model after a login and after a reload,
and say the same thing for a model that does not exist and one the user may not see."""
from __future__ import annotations

import hashlib
import re

import pytest
from sqlalchemy import update

from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.storage import schema

from .conftest import LOGIN_USERNAME, PAGE_TIMEOUT_MS

pytestmark = pytest.mark.e2e

USER, USER_PASSWORD = "datascientist_user", "ds_user123"  # owns "Fraud detection"
ADMIN, ADMIN_PASSWORD = "productowner_admin", "po_admin123"
ENDED = "Your session has ended"


@pytest.fixture(scope="module")
def server_ctx(demo_live_server):
    ctx = Context.open(load_settings(demo_live_server.env))
    yield ctx
    ctx.store.dispose()


def wait_for_login_form(page) -> None:
    page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)


def wait_for_shell(page, username: str) -> None:
    page.get_by_role("button", name="Log out").wait_for(timeout=PAGE_TIMEOUT_MS)
    page.get_by_text(username, exact=False).first.wait_for()


def log_in(page, url: str, username: str, password: str) -> None:
    page.goto(url, wait_until="commit")
    wait_for_login_form(page)
    page.get_by_placeholder("Username").fill(username)
    page.get_by_placeholder("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    wait_for_shell(page, username)
    # the page's script exchanged the login's code for the cookie
    page.wait_for_selector("html[data-vision-session='set']", state="attached")


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == "vision_session"), None)


def test_a_reload_keeps_the_session_in_an_httponly_strict_cookie(page, context, demo_live_server):
    log_in(page, demo_live_server.base_url, USER, USER_PASSWORD)
    cookie = session_cookie(context)
    assert cookie is not None
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # plain http on loopback; https makes it Secure
    assert cookie["expires"] == -1  # a browser-session cookie: the server decides how long it lives
    assert "vision_session" not in page.evaluate("document.cookie")  # scripts cannot read it

    page.reload(wait_until="commit")
    wait_for_shell(page, USER)
    assert page.locator(LOGIN_USERNAME).count() == 0
    page.get_by_text("Fraud detection").first.wait_for()


def test_logout_ends_the_session_and_a_reload_shows_the_login_form(page, context, demo_live_server):
    log_in(page, demo_live_server.base_url, USER, USER_PASSWORD)
    stolen = session_cookie(context)["value"]
    page.get_by_role("button", name="Log out").click()
    wait_for_login_form(page)
    page.wait_for_selector("html[data-vision-session='cleared']", state="attached")
    assert session_cookie(context) is None

    page.reload(wait_until="commit")
    wait_for_login_form(page)
    assert page.get_by_role("button", name="Log out").count() == 0

    # the session was revoked on the server too: the old cookie brought back is refused
    context.add_cookies([{"name": "vision_session", "value": stolen, "url": demo_live_server.base_url,
                          "httpOnly": True, "sameSite": "Strict"}])
    page.reload(wait_until="commit")
    wait_for_login_form(page)
    page.get_by_text(ENDED).wait_for()
    assert session_cookie(context) is None  # the server cleared the dead cookie


def test_an_expired_session_on_reload_shows_the_login_form_with_a_message(page, context, demo_live_server,
                                                                         server_ctx):
    log_in(page, demo_live_server.base_url, ADMIN, ADMIN_PASSWORD)
    token_hash = hashlib.sha256(session_cookie(context)["value"].encode()).hexdigest()
    with server_ctx.store.write() as conn:  # its time to live ran out
        conn.execute(update(schema.sessions).where(schema.sessions.c.token_hash == token_hash)
                     .values(expires_at=server_ctx.now().replace(year=2000)))
    page.reload(wait_until="commit")
    wait_for_login_form(page)
    page.get_by_text(ENDED).wait_for()
    assert page.get_by_role("button", name="Log out").count() == 0


def model_heading(page, name: str):
    """The open model's title on Model 360 (an exact match: the list also names every model)."""
    return page.locator(".vision-section-title", has_text=re.compile(f"^{re.escape(name)}$"))


def test_a_link_opens_its_model_after_login_and_after_a_reload(page, demo_live_server):
    # not the admin's first model in the list, which opens without any link
    url = demo_live_server.base_url + "?page=models&model=Lead%20scoring"
    log_in(page, url, ADMIN, ADMIN_PASSWORD)
    model_heading(page, "Lead scoring").wait_for()

    page.reload(wait_until="commit")
    wait_for_shell(page, ADMIN)
    model_heading(page, "Lead scoring").wait_for()
    assert page.get_by_text("is open to you").count() == 0


@pytest.mark.parametrize("model", ["Customer churn", "No such model"])
def test_a_link_to_a_model_the_user_may_not_see_says_so_without_telling_whether_it_exists(
        page, demo_live_server, model):
    log_in(page, demo_live_server.base_url + "?model=" + model.replace(" ", "%20"), USER, USER_PASSWORD)
    page.get_by_text(f"No model named '{model}' is open to you").wait_for()
    model_heading(page, "Fraud detection").wait_for()  # their own model is shown instead


def test_a_link_to_a_page_the_role_may_not_open_says_so(page, demo_live_server):
    log_in(page, demo_live_server.base_url + "?page=access", USER, USER_PASSWORD)
    page.get_by_text("does not exist or that your role may not open").wait_for()


@pytest.fixture(scope="module")
def poolless_server(tmp_path_factory):
    """A server without a kernel pool: each tab's kernel starts for its request (as when the pool is
    used up), so the resume code arrives in the kernel's environment, not through wait_for_request."""
    from tests.support.server_process import running_server

    with running_server(tmp_path_factory.mktemp("vision-e2e-poolless"), env_extra={"VISION_KERNEL_POOL": "0"}) as server:
        yield server


def test_a_reload_keeps_the_session_when_the_kernel_is_started_for_the_request(page, context, poolless_server):
    log_in(page, poolless_server.base_url + "?page=account", USER, USER_PASSWORD)
    page.get_by_role("button", name="Change password").wait_for()  # the link's page
    page.reload(wait_until="commit")
    wait_for_shell(page, USER)
    page.get_by_role("button", name="Change password").wait_for()
    assert page.locator(LOGIN_USERNAME).count() == 0

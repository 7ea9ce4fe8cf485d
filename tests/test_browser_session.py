"""A session that survives a reload, and ``?page=…&model=…`` links, in the shell (widget tests):
the login hands the browser a single-use code (never the token); a resume code signs a new tab in;
an ended session says so on the login form; links open what the principal may open and answer the
same for a model that does not exist and one they may not see."""
from __future__ import annotations

import pytest
from helpers import ADMIN, OTHER_USER, USER, log_in_through_the_form, synced_text

from vision_widgets.browser_session import RESUME_ENV, SESSION_ENDED, PageRequest, parse, when_requested
from vision_widgets.core.identity import auth, session_codes, sessions
from vision_widgets.services import sessions as session_service
from vision_widgets.views.login import LoginView
from vision_widgets.views.model360 import Model360View


def _bridge_code(app) -> str:
    kind, _, code = app.bridge.value.partition(":")
    assert kind == "login", app.bridge.value
    return code


def _resume_code(ctx, username: str) -> str:
    """What the dashboard handler does for a page request that brings ``username``'s cookie."""
    from helpers import PASSWORDS

    token = auth.login(ctx, username, PASSWORDS[username]).token
    return session_service.resume_code_for_cookie(ctx, token)


# -- the request a tab was opened with ---------------------------------------------------------
def test_the_request_is_read_from_voilas_variables():
    got = parse({RESUME_ENV: "abc", "QUERY_STRING": "page=models&model=Fraud%20detection&x=1"})
    assert got == PageRequest(resume_code="abc", page="models", model="Fraud detection")
    assert parse({RESUME_ENV: "expired"}) == PageRequest(session_ended=True)
    assert parse({}) == PageRequest()
    assert "abc" not in repr(got)  # the code is never logged with the request


def test_a_kernel_started_for_its_request_reads_it_at_once_and_forgets_the_code(monkeypatch):
    monkeypatch.setenv("VOILA_PREHEAT", "False")
    monkeypatch.setenv(RESUME_ENV, "the-code")
    monkeypatch.setenv("QUERY_STRING", "page=account")
    seen = []
    when_requested(seen.append)
    assert seen == [PageRequest(resume_code="the-code", page="account")]
    import os

    assert RESUME_ENV not in os.environ


# -- login and logout ---------------------------------------------------------------------------
def test_a_login_gives_the_browser_a_single_use_code_not_the_token(app, ctx):
    log_in_through_the_form(app, USER)
    code = _bridge_code(app)
    assert app.state.principal.username == USER
    token, principal = session_service.cookie_for_code(ctx, code)
    assert principal.session_id == app.state.principal.session_id  # the cookie is this tab's session
    assert token not in synced_text()  # the token is in no widget the browser could read
    with pytest.raises(session_codes.SessionExpired):
        session_service.cookie_for_code(ctx, code)  # used once


def test_logout_asks_the_browser_to_drop_the_cookie_and_ends_the_session(app, ctx):
    log_in_through_the_form(app, USER)
    token, _principal = session_service.cookie_for_code(ctx, _bridge_code(app))
    app.logout_button.click()
    assert app.bridge.value.startswith("logout:")
    with pytest.raises(session_codes.SessionExpired):
        session_service.resume_code_for_cookie(ctx, token)  # a reload with that cookie finds no session


# -- a new tab resumes ------------------------------------------------------------------------------
def test_a_resume_code_opens_the_shell_without_the_login_form(app, ctx):
    app.resume(PageRequest(resume_code=_resume_code(ctx, USER)))
    assert app.state.principal.username == USER
    assert isinstance(app.view, Model360View)
    assert app.bridge.value == ""  # the browser already has its cookie


def test_a_used_or_unknown_resume_code_shows_the_login_form_saying_the_session_ended(app, ctx):
    code = _resume_code(ctx, USER)
    session_service.resume(ctx, code)  # someone else used it first
    app.resume(PageRequest(resume_code=code))
    assert isinstance(app.view, LoginView) and app.state.principal is None
    assert app.view.status.value == SESSION_ENDED and app.view.status.kind == "error"


def test_a_cookie_whose_session_ended_shows_the_login_form_saying_so(app):
    app.resume(PageRequest(session_ended=True))
    assert isinstance(app.view, LoginView)
    assert app.view.status.value == SESSION_ENDED


# -- links ---------------------------------------------------------------------------------------
@pytest.fixture
def two_models(register_restricted):
    register_restricted("Alpha model", USER)
    register_restricted("Zeta model", USER)
    register_restricted("Other's model", OTHER_USER)


def _heading(app) -> str:
    assert isinstance(app.view, Model360View), type(app.view).__name__
    return app.view.heading.value


def test_a_link_opens_its_model_after_login(app, two_models):
    app.resume(PageRequest(page="models", model="Zeta model"))
    log_in_through_the_form(app, USER)
    assert _heading(app) == "Zeta model"
    assert app.link_status.layout.display == "none"  # no empty message line above the page


def test_a_link_opens_its_model_in_a_resumed_tab(app, ctx, two_models):
    app.resume(PageRequest(resume_code=_resume_code(ctx, USER), model="Zeta model"))
    assert _heading(app) == "Zeta model"


def test_a_link_arriving_after_the_login_is_followed_too(app, two_models):
    log_in_through_the_form(app, USER)
    app.resume(PageRequest(model="Zeta model"))
    assert _heading(app) == "Zeta model"


def test_a_link_opens_another_page(app):
    app.resume(PageRequest(page="account"))
    log_in_through_the_form(app, USER)
    assert app.page.key == "account"


@pytest.mark.parametrize("model", ["Other's model", "No such model"])
def test_a_model_the_user_may_not_see_gets_the_same_answer_as_one_that_does_not_exist(app, two_models, model):
    app.resume(PageRequest(model=model))
    log_in_through_the_form(app, USER)
    assert app.link_status.value == f"No model named {model!r} is open to you; pick one of your models from the list."
    assert app.link_status.kind == "error"
    assert _heading(app) == "Alpha model"  # their first model, as without a link


def test_an_admin_may_follow_a_link_to_anyones_model(app, two_models):
    app.resume(PageRequest(model="Other's model"))
    log_in_through_the_form(app, ADMIN)
    assert _heading(app) == "Other's model"


@pytest.mark.parametrize("page", ["access", "nonsense", "<script>"])
def test_a_page_the_role_may_not_open_is_named_and_the_first_page_shown(app, page):
    app.resume(PageRequest(page=page))
    log_in_through_the_form(app, USER)
    assert app.page.key == "models"
    assert "does not exist or that your role may not open" in app.link_status.value
    assert app.link_status.layout.display != "none"
    app.open_page("account")
    assert app.link_status.value == "" and app.link_status.layout.display == "none"  # gone on the next page


def test_the_link_is_followed_once_per_tab(app, two_models):
    app.resume(PageRequest(model="Zeta model"))
    log_in_through_the_form(app, USER)
    app.logout_button.click()
    log_in_through_the_form(app, USER)
    assert _heading(app) == "Alpha model"


def test_sessions_by_id_refuses_an_empty_id(ctx):
    with pytest.raises(session_codes.SessionExpired):
        sessions.by_id(ctx, "")

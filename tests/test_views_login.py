"""The login page (views/login.py) driven headlessly: type, click, read the traits."""
from __future__ import annotations

import pytest
from helpers import (
    ADMIN,
    PASSWORDS,
    USER,
    live_widgets,
    log_in_through_the_form,
    synced_text,
)
from sqlalchemy.exc import OperationalError

from vision_widgets.core.identity import auth
from vision_widgets.views.base import UNEXPECTED
from vision_widgets.views.login import LoginView


def _nav_shown(app) -> bool:
    return app.shell in app.children


def test_a_wrong_then_a_right_password(app):
    form = app.view
    log_in_through_the_form(app, USER, "not-my-password")
    assert app.view is form and form.status.value == "Wrong username or password."
    assert "vision-status-error" in form.status._dom_classes
    assert form.password.value == "" and form.username.value == USER, "the username stays, the password goes"
    assert app.state.principal is None and not _nav_shown(app)

    form.password.value = PASSWORDS[USER]
    form.submit.click()
    assert form.password.value == ""
    assert app.state.principal.username == USER
    assert _nav_shown(app) and not isinstance(app.view, LoginView)
    assert form.comm is None, "the login form is closed once it has done its job"


def test_an_unknown_user_reads_exactly_like_a_wrong_password(app):
    log_in_through_the_form(app, "no_such_person", "whatever-it-is")
    unknown = app.view.status.value
    log_in_through_the_form(app, USER, "whatever-it-is")
    assert unknown == app.view.status.value == "Wrong username or password."


@pytest.mark.parametrize("username, password", [("", ""), (USER, ""), ("", "ds_user123"), ("   ", "ds_user123")])
def test_empty_fields_ask_for_both(app, username, password):
    app.view.username.value = username
    app.view.password.value = password
    app.view.submit.click()
    assert app.view.status.value == "Enter your username and password."
    assert app.view.password.value == "" and app.state.principal is None


def test_the_fifth_failure_locks_and_says_until_when_and_the_password_is_still_cleared(app, clock):
    for _ in range(4):
        log_in_through_the_form(app, USER, "wrong-password")
    log_in_through_the_form(app, USER, "wrong-password")
    assert "locked" in app.view.status.value and "until 12:15 UTC" in app.view.status.value
    log_in_through_the_form(app, USER)  # the right password, still locked
    assert "until 12:15 UTC" in app.view.status.value and app.view.password.value == ""
    assert app.state.principal is None
    clock.advance(minutes=15)
    log_in_through_the_form(app, USER)
    assert app.state.principal.username == USER


def test_no_live_widget_keeps_the_password_or_the_token_after_login(app, monkeypatch):
    tokens = []
    real_login = auth.login

    def spy(*args, **kwargs):
        session = real_login(*args, **kwargs)
        tokens.append(session.token)
        return session

    monkeypatch.setattr(auth, "login", spy)
    log_in_through_the_form(app, ADMIN)
    everything = synced_text()
    assert tokens and tokens[0] not in everything
    assert PASSWORDS[ADMIN] not in everything
    assert not any(isinstance(w, LoginView) for w in live_widgets())


def test_an_unexpected_failure_shows_a_plain_message_not_a_traceback(app, monkeypatch):
    def broken(*_args, **_kwargs):
        raise OperationalError("SELECT", {}, Exception("unable to open database file"))

    monkeypatch.setattr(auth, "login", broken)
    log_in_through_the_form(app, USER)
    assert app.view.status.value == UNEXPECTED
    assert "Traceback" not in app.view.status.value and "SELECT" not in app.view.status.value
    assert app.view.password.value == ""


def test_a_message_from_the_previous_session_is_shown_on_the_form(app):
    log_in_through_the_form(app, USER)
    app.logout_button.click()
    assert isinstance(app.view, LoginView) and app.view.status.value == "You are logged out."
    log_in_through_the_form(app, USER, "typo")
    assert app.view.status.value == "Wrong username or password."


def test_the_fields_send_their_value_once_committed_so_enter_cannot_overtake_it(app):
    # Keystroke by keystroke, the browser holds every value update after the first until the kernel
    # acknowledges it, while Enter's submit event goes at once; committed values (Enter, Tab, a click)
    # leave in the same browser task as Enter. The keyboard-only e2e test drives the real thing.
    form = app.view
    assert form.username.continuous_update is False
    assert form.password.continuous_update is False

"""My account (views/account.py) driven headlessly through the app."""
from __future__ import annotations

import pytest
from helpers import (
    PASSWORDS,
    STRONG,
    USER,
    labels_text,
    log_in_through_the_form,
    signed_in_state,
)

from vision_widgets.core.errors import AuthenticationError
from vision_widgets.core.identity import auth
from vision_widgets.views.account import AccountView
from vision_widgets.views.login import LoginView


@pytest.fixture
def page(ctx, login):
    """The page alone, for USER, over a signed-in AppState (the shell's own tests cover the rest)."""
    view = AccountView(ctx, signed_in_state(login(USER)))
    yield view
    view.close()


@pytest.fixture
def app_page(app):
    """The page inside the whole app, for flows that leave it (expired session, password changed)."""
    log_in_through_the_form(app, USER)
    app.open_page("account")
    assert isinstance(app.view, AccountView)
    return app.view


def _change(page, current, new, repeat=None):
    page.current.value, page.new.value = current, new
    page.repeat.value = new if repeat is None else repeat
    page.change.click()


def _fields_cleared(page) -> bool:
    return page.current.value == page.new.value == page.repeat.value == ""


def test_it_shows_who_you_are(page):
    shown = labels_text(page.details)
    for expected in ("Username", USER, "Data Scientist", "user", "Analytics", "Fraud", "2024-05-01 12:00 UTC"):
        assert expected in shown
    assert not any("$argon2" in text for text in shown)


def test_a_successful_change_returns_to_login_where_only_the_new_password_works(app, app_page, ctx):
    page = app_page
    _change(page, PASSWORDS[USER], STRONG)
    assert isinstance(app.view, LoginView)
    assert app.view.status.value == "Password changed — log in with your new password."
    assert page.comm is None, "the account page is closed"
    log_in_through_the_form(app, USER)  # the old password
    assert app.view.status.value == "Wrong username or password."
    log_in_through_the_form(app, USER, STRONG)
    assert app.state.principal.username == USER


@pytest.mark.parametrize(
    "current, new, repeat, message",
    [
        (PASSWORDS[USER], STRONG, STRONG + "x", "The two new passwords differ"),
        (PASSWORDS[USER], "short-1", None, "at least 10 characters"),
        (PASSWORDS[USER], f"xx{USER}xx", None, "must not contain the username"),
        (PASSWORDS[USER], PASSWORDS[USER], None, "different from the current one"),
        ("not-my-password", STRONG, None, "The current password is wrong; nothing was changed."),
    ],
    ids=["mismatch", "short", "contains-username", "same-as-current", "wrong-current"],
)
def test_a_refused_change_says_why_clears_every_field_and_keeps_the_session(page, ctx, current, new, repeat,
                                                                          message):
    _change(page, current, new, repeat)
    assert message in page.status.value and "vision-status-error" in page.status._dom_classes
    assert _fields_cleared(page)
    assert page.state.principal is not None and page.comm is not None, "still on the page, still logged in"
    assert auth.login(ctx, USER, PASSWORDS[USER]), "the password is unchanged"


def test_an_expired_session_returns_to_login_and_changes_nothing(app, app_page, clock, ctx):
    page = app_page
    clock.advance(ctx.settings.token_ttl_seconds + 1)
    _change(page, PASSWORDS[USER], STRONG)
    assert isinstance(app.view, LoginView)
    assert app.view.status.value == "Your session expired — please log in again."
    with pytest.raises(AuthenticationError):
        auth.login(ctx, USER, STRONG)

"""The shell (app.py): navigation from permissions, pages built only when allowed, logout, expiry."""
from __future__ import annotations

import pytest
from helpers import (
    ADMIN,
    OTHER_ADMIN,
    PASSWORDS,
    USER,
    live_widgets,
    log_in_through_the_form,
)

from vision_widgets.app import PAGES, pages_for
from vision_widgets.core.errors import SessionExpired
from vision_widgets.core.identity import auth, rbac, sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.services import accounts
from vision_widgets.views.access import AccessView
from vision_widgets.views.account import AccountView
from vision_widgets.views.login import LoginView
from vision_widgets.views.model360 import Model360View

EXPIRED = "Your session expired — please log in again."


def _titles(app) -> list[str]:
    return [title for title, _key in app.nav.options]


def _access_views_alive() -> list:
    return [w for w in live_widgets() if isinstance(w, AccessView)]


def _shown(app) -> list:
    """The pages in the body the browser shows (a kept Model 360 is there too, hidden)."""
    return [view for view in app.body.children if view.layout.display != "none"]


def test_the_app_starts_at_the_login_form_with_no_navigation(app):
    assert isinstance(app.view, LoginView)
    assert app.shell not in app.children and app.header not in app.children
    assert app.state.principal is None


def test_a_users_navigation_has_no_access_management(app):
    log_in_through_the_form(app, USER)
    assert "Access management" not in _titles(app)
    assert "My account" in _titles(app)
    assert app.user_label.value == f"{USER} · Data Scientist · user"
    assert not _access_views_alive()


def test_an_admins_navigation_has_access_management_and_my_account(app):
    log_in_through_the_form(app, ADMIN)
    assert {"Access management", "My account"} <= set(_titles(app))
    app.open_page("access")
    assert isinstance(app.view, AccessView) and _shown(app) == [app.view]


def test_the_navigation_follows_the_permission_map():
    for role, expected_access in (("user", False), ("admin", True)):
        principal = Principal(1, "someone", "Persona", role, "", "", "", session_id="x")
        keys = {p.key for p in pages_for(principal)}
        assert ("access" in keys) is expected_access and "account" in keys
        assert all(p.permission in rbac.permissions_for(principal.role) for p in pages_for(principal))
    assert pages_for(None) == ()
    assert {p.key for p in PAGES if p.permission is Permission.MANAGE_ACCESS} == {"access"}


@pytest.mark.parametrize("key", ["access", "no-such-page", "", "../account"])
def test_a_user_asking_for_a_page_they_may_not_open_gets_nothing_built(app, key):
    log_in_through_the_form(app, USER)
    app.open_page(key)
    assert _shown(app) == [] and app.view is None
    assert not _access_views_alive(), "the admin page must never exist in a user's kernel"
    app.open_page("account")
    assert isinstance(app.view, AccountView), "and the app still works afterwards"


def test_switching_pages_closes_the_previous_one(app):
    log_in_through_the_form(app, ADMIN)
    app.open_page("access")
    access = app.view
    app.nav.value = "account"
    assert isinstance(app.view, AccountView)
    assert access.comm is None and access.table.comm is None
    assert not _access_views_alive()


def test_model_360_is_kept_across_page_switches_and_brought_up_to_date(app, login, register_restricted):
    register_restricted("First model")
    log_in_through_the_form(app, USER)
    models = app.view
    assert isinstance(models, Model360View) and models.heading.value == "First model"
    app.open_page("account")
    assert _shown(app) == [app.view] and isinstance(app.view, AccountView)
    assert models.comm is not None and models.layout.display == "none", "hidden, not closed"
    register_restricted("Another model")  # registered meanwhile (another tab, the API)
    app.open_page("models")
    assert app.view is models and _shown(app) == [models], "the same view, shown again"
    assert "Another model" in models.names, "the list is brought up to date on the way back"
    assert models.heading.value == "First model", "the open model stays open"
    assert not [w for w in live_widgets() if isinstance(w, AccountView)], "the page left is closed"


@pytest.mark.parametrize("leave", ["logout", "role change"])
def test_a_kept_model_360_is_closed_at_logout_and_when_the_role_changes(app, ctx, leave):
    log_in_through_the_form(app, ADMIN)
    models = app.view
    app.open_page("account")
    assert models.comm is not None
    if leave == "logout":
        app.logout_button.click()
    else:
        other = auth.login(ctx, OTHER_ADMIN, PASSWORDS[OTHER_ADMIN]).principal
        accounts.change_role(ctx, other, ADMIN, "user")
        app.open_page("access")
    assert models.comm is None and models.list_table.grid.comm is None
    assert not [w for w in live_widgets() if isinstance(w, Model360View)] or leave == "role change"
    if leave == "role change":  # the shell was rebuilt for the new role: a new Model 360, built for it
        assert app.view is not models and isinstance(app.view, Model360View)


def test_logout_returns_to_login_ends_the_session_and_closes_the_page(app, ctx):
    log_in_through_the_form(app, ADMIN)
    principal = app.state.principal
    app.open_page("access")
    access = app.view
    app.logout_button.click()
    assert isinstance(app.view, LoginView) and app.view.status.value == "You are logged out."
    assert app.state.principal is None and app.shell not in app.children
    assert access.comm is None and not _access_views_alive()
    with pytest.raises(SessionExpired):
        sessions.authenticate(ctx, principal)


@pytest.mark.parametrize("action", ["navigate", "refresh", "logout-button"])
def test_an_expired_session_returns_to_login_with_the_message(app, clock, ctx, action):
    log_in_through_the_form(app, ADMIN)
    app.open_page("account")
    clock.advance(ctx.settings.token_ttl_seconds + 1)
    if action == "navigate":
        app.nav.value = "access"
    elif action == "refresh":
        app.view.refresh()
    else:
        app.logout_button.click()
    assert isinstance(app.view, LoginView)
    expected = "You are logged out." if action == "logout-button" else EXPIRED
    assert app.view.status.value == expected
    assert not _access_views_alive()
    log_in_through_the_form(app, ADMIN)
    assert app.state.principal.username == ADMIN and app.shell in app.children


def test_the_next_person_at_the_same_tab_sees_only_their_pages(app):
    log_in_through_the_form(app, ADMIN)
    app.open_page("access")
    app.logout_button.click()
    log_in_through_the_form(app, USER)
    assert "Access management" not in _titles(app)
    assert app.user_label.value.startswith(USER)
    app.open_page("access")
    assert not _access_views_alive()


def test_a_demoted_admin_can_no_longer_open_access_management(app, ctx):
    log_in_through_the_form(app, ADMIN)
    app.open_page("account")
    other = auth.login(ctx, OTHER_ADMIN, PASSWORDS[OTHER_ADMIN]).principal
    accounts.change_role(ctx, other, ADMIN, "user")
    app.open_page("access")
    assert not _access_views_alive(), "a view the principal may not open is never built"
    assert "Access management" not in _titles(app)
    assert app.user_label.value.endswith("· user")


# -- the left navigation, page heads, keyboard ----------------------------------------------------
def _group_names(app) -> list[str]:
    return [group.children[0].value for group in app.nav.children]


def test_the_navigation_is_grouped_and_a_group_shows_only_with_its_pages(app):
    log_in_through_the_form(app, USER)
    assert _group_names(app) == ["Models", "Account"]
    app.logout_button.click()
    log_in_through_the_form(app, ADMIN)
    assert _group_names(app) == ["Models", "Admin", "Account"]
    admin_group = app.nav.children[1]
    assert [b.description for b in admin_group.children[1:]] == ["Access management", "Connectors"]
    assert all(b.icon for b in app.nav.buttons.values()), "every entry has an icon"


def test_clicking_an_entry_opens_its_page_highlights_it_and_shows_title_and_purpose(app):
    log_in_through_the_form(app, ADMIN)
    assert "vision-nav-current" in app.nav.buttons["models"]._dom_classes
    app.nav.buttons["access"].click()
    assert isinstance(app.view, AccessView)
    current = [k for k, b in app.nav.buttons.items() if "vision-nav-current" in b._dom_classes]
    assert current == ["access"]
    page = next(p for p in PAGES if p.key == "access")
    assert (app.page_title.value, app.page_purpose.value) == ("Access management", page.purpose)


def test_every_page_declares_a_title_a_purpose_an_icon_and_a_group():
    for page in PAGES:
        assert page.title and page.purpose and page.icon and page.group in ("Models", "Admin", "Account")


def test_a_forged_page_key_clears_the_highlight_and_the_page_head(app):
    log_in_through_the_form(app, USER)
    app.open_page("access")
    assert app.page_title.value == "" and app.nav.value == ""
    assert not any("vision-nav-current" in b._dom_classes for b in app.nav.buttons.values())


def test_open_model_shows_that_model_on_model_360(app, ctx, login, register_restricted):
    register_restricted("Second model")
    register_restricted("First model")
    log_in_through_the_form(app, USER)
    app.open_page("account")
    app.open_model("Second model")
    assert app.page.key == "models" and app.view.heading.value == "Second model"
    app.open_model("First model")  # already on the page: the page shows the other model
    assert app.view.heading.value == "First model"


def test_enter_in_the_password_field_logs_in(app):
    app.view.username.value = USER
    app.view.password.value = PASSWORDS[USER]
    app.view.password._handle_string_msg(None, {"event": "submit"}, None)  # what the browser sends on Enter
    assert app.state.principal is not None and app.shell in app.children


def test_every_input_of_the_login_and_account_pages_has_a_label(app):
    for name in ("username", "password"):
        assert getattr(app.view, name).description, f"the login's {name} input has no label"
    log_in_through_the_form(app, USER)
    app.open_page("account")
    for name in ("current", "new", "repeat"):
        assert getattr(app.view, name).description, f"My account's {name} input has no label"


def test_closing_the_app_at_the_login_form_closes_the_hidden_shell_too(app):
    from vision_widgets.views.base import close_tree

    log_in_through_the_form(app, USER)
    app.logout_button.click()
    assert app.shell not in app.children
    close_tree(app)
    assert all(w.comm is None for w in (app.shell, app.page_title, app.page_purpose, app.nav, app.body))

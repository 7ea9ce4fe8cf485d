"""Access management (views/access.py) driven headlessly through the app, as an admin uses it."""
from __future__ import annotations

import pytest
from helpers import (
    ADMIN,
    OTHER_ADMIN,
    PASSWORDS,
    STRONG,
    USER,
    log_in_through_the_form,
    signed_in_state,
)

from vision_widgets.core import audit
from vision_widgets.core.errors import AuthenticationError
from vision_widgets.core.identity import auth
from vision_widgets.core.storage import schema
from vision_widgets.services import accounts
from vision_widgets.views.access import AccessView
from vision_widgets.views.login import LoginView

XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def page(ctx, login):
    """The page alone, for ADMIN, over a signed-in AppState (the shell's own tests cover the rest)."""
    view = AccessView(ctx, signed_in_state(login(ADMIN)))
    yield view
    view.close()


@pytest.fixture
def app_page(app):
    """The page inside the whole app, for flows that leave it (expired session, password changed)."""
    log_in_through_the_form(app, ADMIN)
    app.open_page("access")
    assert isinstance(app.view, AccessView)
    return app.view


def _fill_new(page, username="new_analyst", persona="Analyst", role="user", lob="Analytics", sub_lob="Fraud",
              password=STRONG):
    page.new_username.value = username
    page.new_persona.value = persona
    page.new_role.value = role
    page.new_lob.value = lob
    page.new_sub_lob.value = sub_lob
    page.new_password.value = password


def _row_of(page, username) -> str | None:
    """The <tr> of ``username`` in the accounts table's HTML, or None."""
    for row in page.table.value.split("<tr>")[1:]:
        if f"<td>{username}</td>" in row:
            return row
    return None


def test_the_table_lists_every_account_with_its_columns(page):
    html = page.table.value
    for column in ("Username", "Persona", "Role", "Line of business", "Sub-LOB", "Last login", "Locked"):
        assert f"<th>{column}</th>" in html
    for name in PASSWORDS:
        assert _row_of(page, name) is not None
    assert "<td>Data Scientist</td><td>admin</td><td>Analytics</td><td>Fraud</td><td>2024-05-01 12:00</td>" in _row_of(page, ADMIN)
    assert "<td>never</td><td>no</td>" in _row_of(page, "sre_user")
    assert "$argon2" not in html
    assert page.target.options == tuple(sorted(PASSWORDS))


def test_adding_an_account_updates_the_table_and_the_audit_log(page, ctx):
    _fill_new(page)
    page.add.click()
    assert page.add_status.value == "Account new_analyst added as user."
    assert "<td>new_analyst</td><td>Analyst</td><td>user</td><td>Analytics</td><td>Fraud</td>" in page.table.value
    assert "new_analyst" in page.target.options
    assert f"<td>{ADMIN}</td><td>create account</td><td>new_analyst</td><td>role=user</td>" in page.audit.value
    assert page.new_password.value == "" and page.new_username.value == ""
    assert auth.login(ctx, "new_analyst", STRONG).principal.role == "user"


@pytest.mark.parametrize(
    "fields, message",
    [
        ({"username": XSS}, "3 to 32 characters"),
        ({"username": "two words"}, "3 to 32 characters"),
        ({"username": "Sre_User"}, "already exists"),
        ({"password": "short-1"}, "at least 10 characters"),
        ({"password": "new_analyst-pass"}, "must not contain the username"),
        ({"persona": ""}, "persona"),
    ],
    ids=["html-username", "space", "duplicate-any-case", "short-password", "password-has-username", "no-persona"],
)
def test_bad_input_says_why_and_adds_nothing(page, fields, message):
    before_table, before_audit = page.table.value, page.audit.value
    _fill_new(page, **fields)
    page.add.click()
    assert message in page.add_status.value and "vision-status-error" in page.add_status._dom_classes
    assert page.table.value == before_table and page.audit.value == before_audit
    assert page.new_password.value == "", "the password is cleared even when the add fails"


def test_html_in_an_account_is_shown_escaped_never_as_markup(page):
    _fill_new(page, persona=XSS, lob="<script>alert(2)</script>", sub_lob='"><b>x</b>')
    page.add.click()
    html = page.table.value
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "&lt;script&gt;alert(2)&lt;/script&gt;" in html and "&quot;&gt;&lt;b&gt;x&lt;/b&gt;" in html
    assert "<img" not in html and "<script" not in html and "<b>" not in html


def test_an_account_named_with_html_in_the_database_is_shown_as_text(page, ctx):
    """The services refuse such names; a row written by hand (or an old version) must still be harmless."""
    with ctx.store.write() as conn:
        conn.execute(schema.users.insert().values(
            username=XSS, password_hash="x", persona="Analyst", role="user", created_at=ctx.now(),
            password_changed_at=ctx.now(), failed_logins=0))
        audit.record(conn, ctx.now(), XSS, "<script>alert(3)</script>", XSS)
    page.refresh()
    for html in (page.table.value, page.audit.value):
        assert "&lt;img src=x onerror=alert(1)&gt;" in html
        assert "<img" not in html and "<script" not in html
    assert XSS in page.target.options  # a Dropdown shows options as text
    page.target.value = XSS
    page.remove.click()
    assert XSS in page.confirm_text.value  # a Label: text, not markup
    page.confirm.click()
    assert "&lt;img" not in page.table.value


def test_removing_an_account_asks_first_then_updates_table_and_audit(page, ctx):
    page.target.value = USER
    page.remove.click()
    assert page.confirm_box.layout.display == "flex" and USER in page.confirm_text.value
    assert _row_of(page, USER) is not None, "nothing is removed before the confirmation"
    page.confirm.click()
    assert page.manage_status.value == f"Account {USER} removed."
    assert _row_of(page, USER) is None and USER not in page.target.options
    assert page.confirm_box.layout.display == "none"
    assert f"<td>{ADMIN}</td><td>remove account</td><td>{USER}</td>" in page.audit.value
    with pytest.raises(AuthenticationError):
        auth.login(ctx, USER, PASSWORDS[USER])


def test_the_hidden_confirm_button_removes_nothing_unless_asked_for_that_account(page):
    # In Voila the browser can click a hidden button: confirming without "Remove…", or after
    # switching to another account, must remove nothing.
    page.target.value = USER
    page.confirm.click()
    assert _row_of(page, USER) is not None
    page.remove.click()
    page.target.value = OTHER_ADMIN
    page.confirm.click()
    assert _row_of(page, USER) is not None and _row_of(page, OTHER_ADMIN) is not None


def test_cancel_removes_nothing(page):
    page.target.value = USER
    page.remove.click()
    page.cancel.click()
    assert page.confirm_box.layout.display == "none" and _row_of(page, USER) is not None


def test_you_cannot_remove_yourself(page):
    page.target.value = ADMIN
    page.remove.click()
    page.confirm.click()
    assert "cannot remove your own account" in page.manage_status.value
    assert _row_of(page, ADMIN) is not None


def test_changing_a_role_shows_in_the_table_and_the_audit(page):
    page.target.value = USER
    assert page.role.value == "user"
    page.role.value = "admin"
    page.set_role.click()
    assert page.manage_status.value == f"{USER} is now admin."
    assert "<td>admin</td>" in _row_of(page, USER)
    assert "<td>user → admin</td>" in page.audit.value


def test_resetting_a_password_clears_the_field_and_the_new_one_works(page, ctx):
    page.target.value = USER
    page.reset_to.value = "short"
    page.reset.click()
    assert "at least 10 characters" in page.manage_status.value and page.reset_to.value == ""
    page.reset_to.value = STRONG
    page.reset.click()
    assert "reset" in page.manage_status.value and page.reset_to.value == ""
    assert auth.login(ctx, USER, STRONG)
    assert f"<td>reset password</td><td>{USER}</td>" in page.audit.value


def test_a_locked_account_shows_until_when_and_unlock_clears_it(page, ctx):
    for _ in range(5):
        with pytest.raises(AuthenticationError):
            auth.login(ctx, USER, "wrong-password")
    page.refresh()
    assert "<td>until 12:15 UTC</td>" in _row_of(page, USER)
    page.target.value = USER
    page.unlock.click()
    assert page.manage_status.value == f"{USER} is unlocked."
    assert "<td>no</td></tr>" in _row_of(page, USER)
    assert auth.login(ctx, USER, PASSWORDS[USER])


def test_an_expired_session_on_an_action_returns_to_login_and_changes_nothing(app, app_page, clock, ctx):
    page = app_page
    clock.advance(ctx.settings.token_ttl_seconds + 1)
    _fill_new(page)
    page.add.click()
    assert isinstance(app.view, LoginView)
    assert app.view.status.value == "Your session expired — please log in again."
    assert page.comm is None, "the admin page is closed, not just hidden"
    with pytest.raises(AuthenticationError):
        auth.login(ctx, "new_analyst", STRONG)


def test_a_demoted_admins_next_action_is_refused(page, ctx):
    other = auth.login(ctx, OTHER_ADMIN, PASSWORDS[OTHER_ADMIN]).principal
    accounts.change_role(ctx, other, ADMIN, "user")
    _fill_new(page)
    page.add.click()
    assert "may not manage accounts" in page.add_status.value
    with pytest.raises(AuthenticationError):
        auth.login(ctx, "new_analyst", STRONG)

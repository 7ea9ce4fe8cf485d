"""Access management (admins): accounts, their roles and locks, API keys, and the audit log."""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import clock, when
from vision_widgets.components.safe_html import SafeTable
from vision_widgets.core.identity.rbac import ROLES
from vision_widgets.services import accounts
from vision_widgets.views.access_api_keys import ApiKeysSection
from vision_widgets.views.base import PageView, succeeded

ACCOUNT_COLUMNS = ("Username", "Persona", "Role", "Line of business", "Sub-LOB", "Last login", "Locked")
AUDIT_COLUMNS = ("When (UTC)", "Who", "What", "To whom", "Detail")


class AccessView(PageView):
    """List, add, remove and change accounts; every action is checked by the service and audited."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.accounts: tuple[accounts.Account, ...] = ()
        self.table = SafeTable(ACCOUNT_COLUMNS, empty="No accounts.")
        self.audit = SafeTable(AUDIT_COLUMNS, empty="No administrative actions yet.")

        # Add an account.
        self.new_username = forms.text("3–32 letters, digits, . _ -")
        self.new_persona = forms.text("e.g. Data Scientist")
        self.new_role = w.Dropdown(options=ROLES, value="user", layout=w.Layout(width="260px"))
        self.new_lob = forms.text("e.g. Analytics")
        self.new_sub_lob = forms.text("e.g. Fraud")
        self.new_password = forms.password("At least 10 characters")
        self.add = forms.button("Add account", style="primary", icon="user-plus")
        self.add_status = StatusMessage()
        self.add.on_click(self._on_add)

        # Manage an existing account.
        self.target = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.role = w.Dropdown(options=ROLES, layout=w.Layout(width="120px"))
        self.set_role = forms.button("Change role")
        self.reset_to = forms.password("New password")
        self.reset = forms.button("Reset password")
        self.unlock = forms.button("Unlock")
        self.remove = forms.button("Remove…", style="danger")
        self.confirm_text = w.Label("")
        self.confirm = forms.button("Confirm removal", style="danger")
        self.cancel = forms.button("Cancel")
        self.confirm_box = w.HBox([self.confirm_text, self.confirm, self.cancel])
        self.confirm_box.layout.display = "none"
        self.manage_status = StatusMessage()
        self.set_role.on_click(self._on_set_role)
        self.reset.on_click(self._on_reset)
        self.unlock.on_click(self._on_unlock)
        self.remove.on_click(self._on_remove_asked)
        self.confirm.on_click(self._on_remove_confirmed)
        self.cancel.on_click(lambda _b: self._hide_confirm())
        self.target.observe(self._on_target, "value")
        self.api_keys = ApiKeysSection(self)

        self.children = (
            forms.section("Accounts", self.table),
            forms.section(
                "Add an account",
                forms.field("Username", self.new_username),
                forms.field("Persona", self.new_persona),
                forms.field("Role", self.new_role),
                forms.field("Line of business", self.new_lob),
                forms.field("Sub-LOB", self.new_sub_lob),
                forms.field("Initial password", self.new_password),
                self.add,
                self.add_status,
            ),
            forms.section(
                "Change an account",
                forms.field("Account", self.target),
                forms.field("Role", w.HBox([self.role, self.set_role])),
                forms.field("Password", w.HBox([self.reset_to, self.reset])),
                w.HBox([self.unlock, self.remove]),
                self.confirm_box,
                self.manage_status,
            ),
            forms.section("API keys", self.api_keys),
            forms.section("Audit log", self.audit),
        )
        self.refresh()

    # -- loading -------------------------------------------------------------
    def refresh(self) -> None:
        found = self.run(self.manage_status, accounts.list_accounts, self.ctx, self.principal)
        if found is None:
            return
        entries = self.run(self.manage_status, accounts.audit_log, self.ctx, self.principal)
        now = self.ctx.now()
        self.accounts = tuple(found)
        self.table.update(
            (a.username, a.persona, a.role, a.lob, a.sub_lob, when(a.last_login),
             f"until {clock(a.locked_until)}" if a.is_locked(now) else "no")
            for a in self.accounts
        )
        self.audit.update((when(e.at), e.actor, e.action, e.target, e.detail) for e in entries or ())
        self.api_keys.refresh()
        keep = self.target.value
        names = tuple(a.username for a in self.accounts)
        self.target.options = names
        self.target.value = keep if keep in names else (names[0] if names else None)
        self._on_target()

    def _selected(self) -> accounts.Account | None:
        return next((a for a in self.accounts if a.username == self.target.value), None)

    def _on_target(self, _change=None) -> None:
        account = self._selected()
        if account is not None:
            self.role.value = account.role
        self._hide_confirm()

    # -- actions ---------------------------------------------------------------
    def _on_add(self, _button=None) -> None:
        password = self.new_password.value
        self.new_password.value = ""
        self.add_status.clear()
        new = accounts.NewAccount(
            username=self.new_username.value.strip(),
            persona=self.new_persona.value.strip(),
            role=self.new_role.value,
            lob=self.new_lob.value.strip(),
            sub_lob=self.new_sub_lob.value.strip(),
        )
        created = self.run(self.add_status, accounts.create_account, self.ctx, self.principal, new, password)
        if created is None:
            return
        for box in (self.new_username, self.new_persona, self.new_lob, self.new_sub_lob):
            box.value = ""
        self.refresh()  # the table first: when the confirmation shows, the account is in it
        self.add_status.success(f"Account {created.username} added as {created.role}.")

    def _on_set_role(self, _button=None) -> None:
        username, role = self.target.value, self.role.value
        self.manage_status.clear()
        if self.run(self.manage_status, accounts.change_role, self.ctx, self.principal, username, role):
            self.refresh()
            self.manage_status.success(f"{username} is now {role}.")

    def _on_reset(self, _button=None) -> None:
        username, password = self.target.value, self.reset_to.value
        self.reset_to.value = ""
        self.manage_status.clear()
        if self.run(self.manage_status, succeeded, accounts.reset_password, self.ctx, self.principal, username, password):
            self.refresh()
            self.manage_status.success(f"Password of {username} reset; their sessions were ended.")

    def _on_unlock(self, _button=None) -> None:
        username = self.target.value
        self.manage_status.clear()
        if self.run(self.manage_status, accounts.unlock_account, self.ctx, self.principal, username):
            self.refresh()
            self.manage_status.success(f"{username} is unlocked.")

    def _on_remove_asked(self, _button=None) -> None:
        if self.target.value is None:
            return
        # Remembered so "Confirm removal" acts only on the account the admin was asked about
        # (the browser can click a hidden button).
        self._pending_removal = self.target.value
        self.confirm_text.value = f"Remove {self.target.value}? This cannot be undone."
        self.confirm_box.layout.display = "flex"

    def _hide_confirm(self) -> None:
        self._pending_removal = None
        self.confirm_box.layout.display = "none"
        self.confirm_text.value = ""

    def _on_remove_confirmed(self, _button=None) -> None:
        username = self.target.value
        pending = getattr(self, "_pending_removal", None)
        self._hide_confirm()
        if username is None or username != pending:
            return
        self.manage_status.clear()
        if self.run(self.manage_status, succeeded, accounts.remove_account, self.ctx, self.principal, username):
            self.refresh()
            self.manage_status.success(f"Account {username} removed.")


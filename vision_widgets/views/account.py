"""My account: who you are, change your password."""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import when
from vision_widgets.core.errors import InvalidInput
from vision_widgets.services import accounts
from vision_widgets.views.base import PageView, succeeded


class AccountView(PageView):
    """The acting user's own account."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.details = w.VBox()
        self.current = forms.password("Current password")
        self.new = forms.password("At least 10 characters")
        self.repeat = forms.password("Repeat the new password")
        self.change = forms.button("Change password", style="primary", icon="key")
        self.status = StatusMessage()
        self.change.on_click(self._on_change)
        self.children = (
            forms.section("Your account", self.details),
            forms.section(
                "Change password",
                forms.field("Current password", self.current),
                forms.field("New password", self.new),
                forms.field("Repeat new password", self.repeat),
                w.Label("At least 10 characters, not containing your username, different from the current one."),
                self.change,
                self.status,
            ),
        )
        self.refresh()

    def refresh(self) -> None:
        me = self.run(self.status, accounts.my_account, self.ctx, self.principal)
        if me is None:
            return
        rows = [
            ("Username", me.username),
            ("Persona", me.persona),
            ("Role", me.role),
            ("Line of business", me.lob),
            ("Sub-LOB", me.sub_lob),
            ("Last login", when(me.last_login, " UTC")),
        ]
        old = self.details.children
        self.details.children = tuple(forms.field(k, w.Label(v)) for k, v in rows)
        for child in old:
            child.close()

    def _on_change(self, _button=None) -> None:
        current, new, repeat = self.current.value, self.new.value, self.repeat.value
        for box in (self.current, self.new, self.repeat):
            box.value = ""  # secrets never stay in a synced trait
        self.status.clear()
        if new != repeat:
            self.status.error(str(InvalidInput("The two new passwords differ; type the same one twice.")))
            return
        done = self.run(self.status, succeeded, accounts.change_own_password, self.ctx, self.principal, current, new)
        if done:
            # The change ended every session of the account, this one included.
            self.state.end_session("Password changed — log in with your new password.", kind="success")


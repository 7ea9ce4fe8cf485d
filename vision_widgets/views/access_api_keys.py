"""The Access page's "API keys" section (admins): the keys for automation, and revoking one.

Keys are issued from the command line (``vision api-keys issue NAME``), never here: a key is a
secret shown once, and in Voila every widget trait is readable by the browser for as long as the
widget lives, so the page lists keys (never a key or its hash) and revokes them, nothing more.
``services.api_keys`` checks ``MANAGE_API_KEYS`` on every call.
"""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.confirm import ConfirmStep
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import when
from vision_widgets.components.note import Note
from vision_widgets.components.safe_html import SafeTable
from vision_widgets.services import api_keys

COLUMNS = ("Id", "Name", "Scope", "State", "Created by", "Created (UTC)", "Expires", "Last used")
HOW_TO_ISSUE = ("Keys let a pipeline send usage records (POST /vision/api/models/{name}/usage). To issue one, "
                "run vision api-keys issue NAME on the server: the key is printed once there and never passes "
                "through this page. Revoking a key refuses its next request.")


class ApiKeysSection(w.VBox):
    """List the API keys; revoke one after a confirmation.

    ``view`` is the page (its ``run``, ``ctx``, ``principal``); its ``refresh`` refreshes this section too.
    """

    def __init__(self, view) -> None:
        self.view = view
        self.table = SafeTable(COLUMNS, empty="No API keys yet.")
        self.key = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.revoke = forms.button("Revoke…", style="danger")
        self.confirm = ConfirmStep("Confirm revocation")
        self.status = StatusMessage()
        self.revoke.on_click(self._on_revoke_asked)
        self.confirm.on_confirm(self._on_revoke_confirmed)
        self.key.observe(lambda _c: self.confirm.cancel(), "value")
        self.active_row = w.HBox([forms.field("Active key", self.key), self.revoke],
                                 layout=w.Layout(align_items="center", grid_gap="8px"))
        super().__init__([Note(HOW_TO_ISSUE, muted=True), self.table, self.active_row, self.confirm, self.status])

    def refresh(self) -> None:
        found = self.view.run(self.status, api_keys.list_keys, self.view.ctx, self.view.principal)
        if found is None:
            return
        now = self.view.ctx.now()
        self.table.update(
            (k.id, k.name, k.scope, k.state(now), k.created_by, when(k.created_at), when(k.expires_at),
             when(k.last_used_at))
            for k in found
        )
        active = tuple((f"{k.name} (id {k.id})", str(k.id)) for k in found if k.state(now) == "active")
        keep = self.key.value
        self.key.options = active
        self.key.value = keep if keep in {v for _, v in active} else (active[0][1] if active else None)
        self.active_row.layout.display = "flex" if active else "none"

    def _on_revoke_asked(self, _button=None) -> None:
        if self.key.value is None:
            return
        label = next(text for text, value in self.key.options if value == self.key.value)
        self.confirm.ask(self.key.value, f"Revoke {label}? Pipelines using it are refused from now on.")

    def _on_revoke_confirmed(self, key_id: str) -> None:
        self.status.clear()
        revoked = self.view.run(self.status, api_keys.revoke, self.view.ctx, self.view.principal, int(key_id))
        if revoked is not None:
            self.view.refresh()  # the list and the audit log
            self.status.success(f"API key {revoked.name} (id {revoked.id}) is revoked.")

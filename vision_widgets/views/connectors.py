"""Connectors (admins): the stored connections to where models' data lives — list, add, edit, test, remove.

The form is built from the connector type's ``fields``. A secret field is a ``Password`` input that
is always empty when shown: a saved value is never sent to the browser (placeholder "•••• saved —
type to replace"), and what the admin types is cleared from the widget as soon as Save has read it,
so no secret stays in a widget trait the browser could read back. An empty secret field on Save
keeps the saved value.

Test connection runs in a thread (the page stays responsive; the button is disabled meanwhile) and
says, next to the button, how long the source took and a sample of what it sees, or its error.
Every action goes through ``services/connectors.py``, which checks the permission again.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.confirm import ConfirmStep
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.services import connectors
from vision_widgets.services.connectors import ConnectorInfo, TypeInfo
from vision_widgets.views.base import PageView, close_tree, succeeded, unobserved

COLUMNS = ("Name", "Type", "Description", "Models", "Last test")
SAVED = "•••• saved — type to replace"
REENTER = "cannot be decrypted — re-enter it"
TEST_TIMEOUT = 10.0


def ago(then: datetime | None, now: datetime) -> str:
    """``just now``, ``5 min ago``, ``3 h ago``, ``2 d ago``."""
    if then is None:
        return ""
    seconds = max(0.0, (now - then).total_seconds())
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return f"{int(seconds // 86400)} d ago"


def last_test(info: ConnectorInfo, now: datetime) -> str:
    """The last test in a few words: ``ok · 12 ms · 5 min ago``, ``failed · 1 h ago``, ``never tested``
    (``built in: no test needed`` for the local connector, as Monitoring counts it)."""
    if not info.readable:
        return "secrets unreadable: re-enter them"
    if info.last_test_at is None:
        # The built-in local connector reads the server's own folders: Monitoring needs no test of it either.
        return "built in: no test needed" if info.built_in else "never tested"
    if info.last_test_ok:
        took = "" if info.last_test_ms is None else f" · {info.last_test_ms:.0f} ms"  # None: not an admin
        return f"ok{took} · {ago(info.last_test_at, now)}"
    return f"failed · {ago(info.last_test_at, now)}"


class ConnectorsView(PageView):
    """Stored connectors: a table, a form built from the selected type's fields, and their actions."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.closed = False  # closed (another page, logout): a test ending later updates nothing
        self.infos: tuple[ConnectorInfo, ...] = ()
        self.list_status = StatusMessage()
        # The service decides first: for anyone else the page is only its message (no form is built).
        found = self.run(self.list_status, connectors.list_types, self.ctx, self.principal)
        self.allowed = found is not None
        self.types: tuple[TypeInfo, ...] = tuple(found or ())
        if not self.allowed:
            self.children = (self.list_status,)
            return
        self.adding = False  # the form describes a new connector (not yet saved)
        self.inputs: dict[str, w.Widget] = {}
        self.secret_inputs: dict[str, w.Password] = {}
        self.fields_type: str | None = None  # the type whose inputs the form holds

        self.table = DataTable(COLUMNS, empty="No connectors.", label="Connectors", noun=("connector", "connectors"),
                               widths={"Name": 160, "Type": 160, "Description": 260, "Models": 80, "Last test": 220})
        self.table.on_open(self._open)

        self.choice = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.choice.observe(self._on_choice, "value")
        self.add = forms.button("Add connector", icon="plus")
        self.add.on_click(self._on_add)

        self.heading = w.Label("")
        self.heading.add_class("vision-section-title")
        self.name = forms.text("1–32 letters, digits, . _ -")
        self.type = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.type.observe(self._on_type, "value")
        self.description = forms.text("What it reads, for people choosing it")
        self.fields_box = w.VBox()
        self.notice = StatusMessage()
        self.save = forms.button("Save", style="primary", icon="save")
        self.save.on_click(self._on_save)
        self.save_status = StatusMessage()
        self.test = forms.button("Test connection", icon="plug")
        self.test.on_click(self._on_test)
        self.test_status = StatusMessage()
        self.remove = forms.button("Remove…", style="danger", icon="trash")
        self.remove.on_click(self._on_remove_asked)
        self.move_to = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.confirm = ConfirmStep("Confirm removal", extra=(forms.field("Move its models to", self.move_to),))
        self.confirm.on_confirm(self._on_remove_confirmed)
        self.remove_status = StatusMessage()
        for status in (self.save_status, self.test_status, self.remove_status):
            status.layout.margin = "0 0 0 10px"  # beside its button, not touching it
        self.actions = w.VBox([
            w.HBox([self.test, self.test_status], layout=w.Layout(align_items="center")),
            w.HBox([self.remove, self.remove_status], layout=w.Layout(align_items="center")),
            self.confirm,
        ])

        form = w.VBox([
            self.heading,
            forms.field("Name", self.name),
            forms.field("Type", self.type),
            forms.field("Description", self.description),
            self.fields_box,
            self.notice,
            w.HBox([self.save, self.save_status], layout=w.Layout(align_items="center")),
            self.actions,
        ])
        form.add_class("vision-card")
        self.children = (
            forms.section("Connectors", self.table, self.list_status,
                          w.HBox([forms.field("Connector", self.choice), self.add],
                                 layout=w.Layout(align_items="center"))),
            form,
        )
        with unobserved(self.type, self._on_type):
            self.type.options = tuple((t.title, t.type) for t in self.types)
        self.refresh()

    # -- loading -----------------------------------------------------------------------------------
    def refresh(self, select: str | None = None) -> None:
        """Reload the list; keep (or move to ``select``) the connector shown in the form."""
        if not self.allowed:
            return
        found = self.run(self.list_status, connectors.list_connectors, self.ctx, self.principal)
        if found is None:
            return
        self.infos = tuple(found)
        self._show_table()
        names = tuple(c.name for c in self.infos)
        keep = select or (self.choice.value if not self.adding else None)
        with unobserved(self.choice, self._on_choice):
            self.choice.options = names
            self.choice.value = keep if keep in names else (names[0] if names else None)
        if not self.adding or select:
            self._show(self._selected())

    def _show_table(self) -> None:
        now = self.ctx.now()
        self.table.update((c.name, c.title, c.description, len(c.models), last_test(c, now)) for c in self.infos)

    def _selected(self) -> ConnectorInfo | None:
        return next((c for c in self.infos if c.name == self.choice.value), None)

    def _type(self, type_name: str) -> TypeInfo | None:
        return next((t for t in self.types if t.type == type_name), None)

    # -- the form ----------------------------------------------------------------------------------
    def _show(self, info: ConnectorInfo | None) -> None:
        """Fill the form for a stored connector (edit) — or empty it for a new one (``info`` None)."""
        self.adding = info is None
        self.confirm.cancel()
        for status in (self.save_status, self.test_status, self.remove_status, self.notice):
            status.clear()
        self.name.value = "" if info is None else info.name
        self.name.disabled = info is not None
        self.type.disabled = info is not None
        self.description.value = "" if info is None else info.description
        self.actions.layout.display = "none" if info is None else ""
        if info is None:
            self.heading.value = "New connector"
            with unobserved(self.type, self._on_type):
                if self.types:
                    self.type.value = next((t.type for t in self.types if t.type != "local"), self.types[0].type)
        else:
            self.heading.value = f"Connector {info.name}"
            with unobserved(self.type, self._on_type):
                if self._type(info.type) is not None:
                    self.type.value = info.type
            if not info.readable:
                self.notice.error("Its secrets cannot be decrypted (the secret key changed): "
                                  "re-enter them and save.")
            elif info.built_in:
                self.notice.show("Built in: reads the server's data folders; it has no settings and stays.")
        self.description.disabled = info is not None and info.built_in
        self.save.disabled = info is not None and info.built_in
        self.remove.disabled = info is not None and info.built_in
        self._build_fields(self._type(self.type.value), info)

    def _build_fields(self, ctype: TypeInfo | None, info: ConnectorInfo | None) -> None:
        """The inputs of ``ctype``'s fields, filled for ``info`` (or a new connector).

        The inputs of the type already shown are kept and refilled, not replaced: a browser typing
        into the form while new inputs were on their way would type into the old ones, and lose it.
        """
        type_name = ctype.type if ctype is not None else None
        if type_name != self.fields_type:
            self._make_fields(ctype)
            self.fields_type = type_name
        config = info.config if info is not None else {}
        for f in (ctype.fields if ctype is not None else ()):
            widget = self.inputs[f.name]
            if f.secret:
                if info is not None and f.name in info.secrets_set:
                    hint = SAVED
                elif info is not None and not info.readable:
                    hint = REENTER
                else:
                    hint = "required" if f.required else "optional"
                widget.value = ""
                widget.placeholder = hint
            elif f.kind == "bool":
                widget.value = bool(config.get(f.name, f.default or False))
            elif f.kind == "choice":
                value = config.get(f.name, f.default)
                widget.value = value if value in f.choices else (f.choices[0] if f.choices else None)
            else:
                value = config.get(f.name, f.default if info is None else None)
                widget.value = "" if value is None else str(value)
                widget.placeholder = "required" if f.required else "optional"

    def _make_fields(self, ctype: TypeInfo | None) -> None:
        self.inputs, self.secret_inputs = {}, {}
        rows: list[w.Widget] = []
        for f in (ctype.fields if ctype is not None else ()):
            label = f.label + (" *" if f.required else "")
            if f.secret:
                widget: w.Widget = forms.password("")
                self.secret_inputs[f.name] = widget
            elif f.kind == "bool":
                widget = w.Checkbox(description=label, indent=False)
            elif f.kind == "choice":
                widget = w.Dropdown(options=tuple(f.choices), layout=w.Layout(width="260px"))
            else:
                widget = forms.text("")
            self.inputs[f.name] = widget
            rows.append(widget if isinstance(widget, w.Checkbox) else forms.field(label, widget))
            if f.help:
                help_text = w.Label(f.help, layout=w.Layout(margin="-2px 0 6px 178px"))
                help_text.add_class("vision-muted")
                rows.append(help_text)
        if ctype is not None and not ctype.fields:
            rows.append(w.Label("This type has no settings."))
        old = self.fields_box.children
        self.fields_box.children = tuple(rows)
        for child in old:
            close_tree(child)

    def _values(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The form's settings and secrets; the secret inputs are emptied as they are read."""
        config: dict[str, Any] = {}
        for name, widget in self.inputs.items():
            if name in self.secret_inputs:
                continue
            value = widget.value
            if isinstance(value, str):
                value = value.strip()
                if value == "":
                    continue
            config[name] = value
        secrets = {}
        for name, widget in self.secret_inputs.items():
            if widget.value:
                secrets[name] = widget.value
            widget.value = ""
        return config, secrets

    # -- events ------------------------------------------------------------------------------------
    def _open(self, name: str) -> None:
        if name in self.choice.options:
            self.choice.value = name
            if self.adding:  # the same name chosen again: show it anyway
                self._show(self._selected())

    def _on_choice(self, _change=None) -> None:
        self._show(self._selected())

    def _on_add(self, _button=None) -> None:
        self._show(None)
        self.save_status.show("Fill in the settings, then Save; test it once saved.")

    def _on_type(self, _change=None) -> None:
        if self.adding:
            self._build_fields(self._type(self.type.value), None)

    def _on_save(self, _button=None) -> None:
        config, secrets = self._values()
        self.save_status.clear()
        if self.adding:
            saved = self.run(self.save_status, connectors.add_connector, self.ctx, self.principal,
                             self.name.value.strip(), self.type.value, config, secrets, self.description.value.strip())
            done = "added"
        else:
            name = self.choice.value
            if name is None:
                return
            saved = self.run(self.save_status, connectors.update_connector, self.ctx, self.principal, name,
                             config=config, secrets=secrets, description=self.description.value.strip())
            done = "saved"
        if saved is None:
            return
        self.adding = False
        self.refresh(select=saved.name)
        self.save_status.success(f"Connector {saved.name} {done}." + (" Test it to check it reaches its source."
                                                                       if done == "added" else ""))

    def _on_test(self, _button=None) -> None:
        name = self.choice.value
        if self.adding or name is None:
            self.test_status.error("Save the connector first, then test it.")
            return
        self.test.disabled = True
        self.test_status.show(f"Testing {name} (up to {TEST_TIMEOUT:.0f} s)…")
        tester = self.principal
        self.run_in_background(self.test_status, self._test, name,
                               on_done=lambda result: self._tested(name, result, tester))

    def _test(self, name: str):
        try:
            return connectors.test_connector(self.ctx, self.principal, name, timeout=TEST_TIMEOUT)
        finally:
            self.test.disabled = False

    def _tested(self, name: str, result, tester=None) -> None:
        if self.closed or self.principal is None or (tester is not None and self.principal is not tester):
            return  # the page was closed or its account left during the test: nobody to show it to
        if self.adding or self.choice.value != name:
            pass  # another connector is shown now: its form says nothing about this one; the table does
        elif result.ok:
            sample = f" Sees: {', '.join(result.sample)}." if result.sample else ""
            self.test_status.success(f"ok — {result.latency_ms:.0f} ms. {result.message}{sample}".strip())
        else:
            self.test_status.error(f"Failed: {result.message}")
        found = self.run(self.list_status, connectors.list_connectors, self.ctx, self.principal)
        if found is not None:
            self.infos = tuple(found)
            self._show_table()

    def _on_remove_asked(self, _button=None) -> None:
        info = self._selected()
        self.remove_status.clear()
        if info is None or self.adding:
            return
        if not info.models:
            self.confirm.ask(info.name, f"Remove {info.name}? No model uses it.", show_extra=False)
            return
        targets = tuple(c.name for c in self.infos if c.type == info.type and c.name != info.name)
        with self.move_to.hold_sync():
            self.move_to.options = targets
            self.move_to.value = targets[0] if targets else None
        n = len(info.models)
        uses = f"{n} model{'s use' if n != 1 else ' uses'} it ({', '.join(info.models)})"
        if targets:
            self.confirm.ask(info.name, f"Remove {info.name}? {uses}: they move to the connector chosen.")
        else:
            self.remove_status.error(f"{uses}, and there is no other {info.title} connector to move them to: "
                                     "add one first.")

    def _on_remove_confirmed(self, name: str) -> None:
        info = next((c for c in self.infos if c.name == name), None)
        move = self.move_to.value if info is not None and info.models else None
        if self.run(self.remove_status, succeeded, connectors.remove_connector, self.ctx, self.principal, name,
                    move):
            self.refresh(select="local")
            self.remove_status.success(f"Connector {name} removed" + (f"; its models now use {move}." if move else "."))

    def close(self) -> None:
        self.closed = True
        super().close()

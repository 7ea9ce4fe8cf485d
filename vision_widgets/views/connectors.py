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
from vision_widgets.components.data_grid import DataTable
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.stored_item_form import SAVED, StoredItemForm
from vision_widgets.services import connectors
from vision_widgets.services.connectors import ConnectorInfo, TypeInfo
from vision_widgets.views.base import PageView, close_tree, succeeded, unobserved

__all__ = ["SAVED", "ConnectorsView", "last_test"]

COLUMNS = ("Name", "Type", "Description", "Models", "Last test")
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
        self.inputs: dict[str, w.Widget] = {}
        self.secret_inputs: dict[str, w.Password] = {}
        self.fields_type: str | None = None  # the type whose inputs the form holds

        self.table = DataTable(COLUMNS, empty="No connectors.", label="Connectors", noun=("connector", "connectors"),
                               widths={"Name": 160, "Type": 160, "Description": 260, "Models": 80, "Last test": 220})

        self.description = forms.text("What it reads, for people choosing it")
        self.fields_box = w.VBox()
        self.move_to = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.form = form = StoredItemForm(
            "connector", "Type", (forms.field("Description", self.description), self.fields_box),
            confirm_extra=(forms.field("Move its models to", self.move_to),), add_label="Add connector",
            test_label="Test connection", test_icon="plug", on_choose=lambda: self._show(self._selected()),
            on_add=self._on_add, on_save=self._on_save, on_test=self._on_test, on_remove=self._on_remove_asked,
            on_removed=self._on_remove_confirmed)
        form.kind.observe(self._on_type, "value")
        self.table.on_open(form.open_item)
        self.type = form.kind  # a connector's kind is its type
        # the form's parts a test or a handler here reaches for by name
        self.choice, self.add, self.heading, self.name, self.notice = (
            form.choice, form.add, form.heading, form.name, form.notice)
        self.save, self.save_status, self.test, self.test_status, self.remove, self.remove_status, self.confirm = (
            form.save, form.save_status, form.test, form.test_status, form.remove, form.remove_status, form.confirm)
        self.children = (forms.section("Connectors", self.table, self.list_status, form.picker), form)
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
        if self.form.list_names(tuple(c.name for c in self.infos), select):
            self._show(self._selected())

    def _show_table(self) -> None:
        now = self.ctx.now()
        self.table.update((c.name, c.title, c.description, len(c.models), last_test(c, now)) for c in self.infos)

    def _selected(self) -> ConnectorInfo | None:
        return self.form.selected(self.infos)

    def _type(self, type_name: str) -> TypeInfo | None:
        return next((t for t in self.types if t.type == type_name), None)

    # -- the form ----------------------------------------------------------------------------------
    def _show(self, info: ConnectorInfo | None) -> None:
        """Fill the form for a stored connector (edit) — or empty it for a new one (``info`` None)."""
        self.form.show_item(info)
        self.description.value = "" if info is None else info.description
        if info is None:
            with unobserved(self.type, self._on_type):
                if self.types:
                    self.type.value = next((t.type for t in self.types if t.type != "local"), self.types[0].type)
        else:
            with unobserved(self.type, self._on_type):
                if self._type(info.type) is not None:
                    self.type.value = info.type
            if info.readable and info.built_in:
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
                self.form.show_secret(widget, f.name, info, "required" if f.required else "optional")
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
        return config, self.form.take_secrets(self.secret_inputs)

    # -- events ------------------------------------------------------------------------------------
    def _on_add(self, _button=None) -> None:
        self._show(None)
        self.save_status.show("Fill in the settings, then Save; test it once saved.")

    def _on_type(self, _change=None) -> None:
        if self.form.adding:
            self._build_fields(self._type(self.type.value), None)

    def _on_save(self, _button=None) -> None:
        config, secrets = self._values()
        self.form.save_item(
            self.run,
            lambda: connectors.add_connector(self.ctx, self.principal, self.name.value.strip(), self.type.value,
                                             config, secrets, self.description.value.strip()),
            lambda name: connectors.update_connector(self.ctx, self.principal, name, config=config, secrets=secrets,
                                                     description=self.description.value.strip()),
            self.refresh, "Test it to check it reaches its source.")

    def _on_test(self, _button=None) -> None:
        self.form.start_test(
            self, lambda name: connectors.test_connector(self.ctx, self.principal, name, timeout=TEST_TIMEOUT),
            self._tested, unsaved="Save the connector first, then test it.",
            running=f"Testing {{name}} (up to {TEST_TIMEOUT:.0f} s)…")

    def _tested(self, _name: str, result, shown: bool) -> None:
        if not shown:
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
        info = self.form.removal_asked(self.infos)
        if info is None:
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

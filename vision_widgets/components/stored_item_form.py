"""The form of a stored, named item with secrets (an alert channel, a connector): pick, add, edit, test, remove.

Alert delivery and Connectors edit the same kind of thing: a named row of some kind (a channel's
kind, a connector's type) with settings and sealed secrets. This component is what their pages
share: the picker (a dropdown of the names and "Add …"), the card (heading, name, kind, the page's
own fields, Save, the test button and Remove with a confirm step, a status beside each button),
and the rules both follow:

- a secret input is always empty when shown — a saved value is never sent to the browser, its
  placeholder says "•••• saved — type to replace" (or that it cannot be decrypted) — and what the
  admin types is cleared as soon as Save has read it (``take_secrets``): no secret stays in a
  widget trait the browser could read back;
- the test runs in the page's background lane with its button disabled, and its answer is shown
  only if the page is still open, for the same account, with the same item in the form.

The page keeps what differs: its fields, how they are filled and read, and the service calls.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.confirm import ConfirmStep
from vision_widgets.components.feedback import StatusMessage

SAVED = "•••• saved — type to replace"
REENTER = "cannot be decrypted — re-enter it"
UNREADABLE = "Its secrets cannot be decrypted (the secret key changed): re-enter them and save."

T = TypeVar("T")


class StoredItem(Protocol):
    """What the form reads of an item the service listed."""

    name: str
    readable: bool
    secrets_set: Any


class StoredItemForm(w.VBox):
    """The card editing one stored item, and its picker (``picker``, placed by the page above the card).

    ``noun`` names the item in messages ("channel"); ``body`` are the page's own fields, shown between
    the kind and the notice; ``confirm_extra`` goes into the removal's confirm step. The page's
    handlers: ``on_choose()`` (another item picked: fill the form), ``on_add``, ``on_save``,
    ``on_test`` and ``on_remove`` (its buttons, given the button), ``on_removed(name)`` (confirmed).
    """

    def __init__(self, noun: str, kind_label: str, body: Sequence[w.Widget], *, add_label: str,
                 test_label: str, test_icon: str, on_choose: Callable[[], None],
                 on_add: Callable[[w.Button], None], on_save: Callable[[w.Button], None],
                 on_test: Callable[[w.Button], None], on_remove: Callable[[w.Button], None],
                 on_removed: Callable[[str], None], confirm_extra: Sequence[w.Widget] = (),
                 kind_options: Sequence[Any] = (), kind_value: Any = None) -> None:
        self.noun = noun
        self.adding = False  # the form describes a new item (not yet saved)
        self._choose = on_choose

        self.choice = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.choice.observe(self._on_choice, "value")
        self.add = forms.button(add_label, icon="plus")
        self.add.on_click(on_add)
        self.picker = w.HBox([forms.field(noun.capitalize(), self.choice), self.add],
                             layout=w.Layout(align_items="center"))

        self.heading = w.Label("")
        self.heading.add_class("vision-section-title")
        self.name = forms.text("1–32 letters, digits, . _ -")
        self.kind = w.Dropdown(options=tuple(kind_options), layout=w.Layout(width="260px"))
        if kind_value is not None:
            self.kind.value = kind_value
        self.notice = StatusMessage()
        self.save = forms.button("Save", style="primary", icon="save")
        self.save.on_click(on_save)
        self.save_status = StatusMessage()
        self.test = forms.button(test_label, icon=test_icon)
        self.test.on_click(on_test)
        self.test_status = StatusMessage()
        self.remove = forms.button("Remove…", style="danger", icon="trash")
        self.remove.on_click(on_remove)
        self.confirm = ConfirmStep("Confirm removal", extra=tuple(confirm_extra))
        self.confirm.on_confirm(on_removed)
        self.remove_status = StatusMessage()
        for status in (self.save_status, self.test_status, self.remove_status):
            status.layout.margin = "0 0 0 10px"  # beside its button, not touching it
        self.actions = w.VBox([
            w.HBox([self.test, self.test_status], layout=w.Layout(align_items="center")),
            w.HBox([self.remove, self.remove_status], layout=w.Layout(align_items="center")),
            self.confirm,
        ])
        super().__init__([
            self.heading,
            forms.field("Name", self.name),
            forms.field(kind_label, self.kind),
            *body,
            self.notice,
            w.HBox([self.save, self.save_status], layout=w.Layout(align_items="center")),
            self.actions,
        ])
        self.add_class("vision-card")

    # -- the picker --------------------------------------------------------------------------------
    def _on_choice(self, _change=None) -> None:
        self._choose()

    def list_names(self, names: Sequence[str], select: str | None = None) -> bool:
        """Offer ``names``, keeping the item picked (or moving to ``select``) without calling back;
        whether the form should now show the picked item (not while a new one is being filled in)."""
        keep = select or (self.choice.value if not self.adding else None)
        self.choice.unobserve(self._on_choice, "value")
        try:
            with self.choice.hold_sync():  # options and value reach the browser as one message
                self.choice.options = tuple(names)
                self.choice.value = keep if keep in names else (names[0] if names else None)
        finally:
            self.choice.observe(self._on_choice, "value")
        return bool(select) or not self.adding

    def open_item(self, name: str) -> None:
        """Pick ``name`` (a row of the page's table opened); shown even when it was picked while adding."""
        if name in self.choice.options:
            self.choice.value = name
            if self.adding:  # the same name chosen again: show it anyway
                self._choose()

    def selected(self, items: Iterable[T]) -> T | None:
        """The item of ``items`` picked, or None."""
        return next((i for i in items if i.name == self.choice.value), None)  # type: ignore[attr-defined]

    # -- the card ----------------------------------------------------------------------------------
    def show_item(self, info: StoredItem | None) -> None:
        """Reset the card for ``info`` (edit) or a new item (None): heading, name, statuses, actions;
        the page fills its own fields after."""
        self.adding = info is None
        self.confirm.cancel()
        for status in (self.save_status, self.test_status, self.remove_status, self.notice):
            status.clear()
        self.heading.value = f"New {self.noun}" if info is None else f"{self.noun.capitalize()} {info.name}"
        self.name.value = "" if info is None else info.name
        self.name.disabled = self.kind.disabled = info is not None
        self.actions.layout.display = "none" if info is None else ""
        if info is not None and not info.readable:
            self.notice.error(UNREADABLE)

    @staticmethod
    def show_secret(widget: w.Password, field_name: str, info: StoredItem | None, hint: str) -> None:
        """Empty a secret input; its placeholder says whether a value is saved (never the value)."""
        widget.value = ""
        if info is not None and field_name in info.secrets_set:
            widget.placeholder = SAVED
        elif info is not None and not info.readable:
            widget.placeholder = REENTER
        else:
            widget.placeholder = hint

    @staticmethod
    def take_secrets(inputs: Mapping[str, w.Password]) -> dict[str, str]:
        """What was typed into the secret ``inputs`` (empty ones: keep the saved value); all emptied."""
        secrets = {name: widget.value for name, widget in inputs.items() if widget.value}
        for widget in inputs.values():
            widget.value = ""
        return secrets

    # -- the actions -------------------------------------------------------------------------------
    def save_item(self, run: Callable[..., Any], add: Callable[[], Any], update: Callable[[str], Any],
                  refresh: Callable[..., None], added_hint: str) -> None:
        """Save the form: ``add()`` a new item or ``update(name)`` the one picked, through the page's
        ``run`` (errors said beside Save); then the list is reloaded on the saved item."""
        self.save_status.clear()
        if self.adding:
            saved = run(self.save_status, add)
            done = "added"
        else:
            name = self.choice.value
            if name is None:
                return
            saved = run(self.save_status, update, name)
            done = "saved"
        if saved is None:
            return
        self.adding = False
        refresh(select=saved.name)
        self.save_status.success(f"{self.noun.capitalize()} {saved.name} {done}."
                                 + (f" {added_hint}" if done == "added" else ""))

    def start_test(self, page: Any, call: Callable[[str], T], done: Callable[[str, T, bool], None], *,
                   unsaved: str, running: str) -> None:
        """Test the item picked in ``page``'s background lane, its button disabled meanwhile.

        ``done(name, result, shown)`` runs only while the page is open for the account that asked;
        ``shown`` says whether that item is still the one in the form (if not, its answer stays out of it).
        """
        name = self.choice.value
        if self.adding or name is None:
            self.test_status.error(unsaved)
            return
        self.test.disabled = True
        self.test_status.show(running.format(name=name))
        tester = page.principal

        def body() -> T:
            try:
                return call(name)
            finally:
                self.test.disabled = False

        def finished(result: T) -> None:
            if page.closed or page.principal is None or (tester is not None and page.principal is not tester):
                return  # the page was closed or its account left during the test: nobody to show it to
            done(name, result, not self.adding and self.choice.value == name)

        page.run_in_background(self.test_status, body, on_done=finished)

    def removal_asked(self, items: Iterable[T]) -> T | None:
        """The item Remove… was pressed for (None while adding or with none picked)."""
        self.remove_status.clear()
        return None if self.adding else self.selected(items)

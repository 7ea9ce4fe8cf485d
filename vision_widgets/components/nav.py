"""The left navigation bar: one button per page (icon + name), grouped, the current page highlighted.

Real ``Button`` widgets, not HTML: each is a ``<button>`` in the page, so Tab reaches it and Enter
or Space opens it, and its name comes from the app's page list (static text), never from user
data. ``value`` is the current page's key; it is a plain trait (not synced), so the browser can
only ask for a page by clicking one of the buttons it was given — and the shell checks that page
against the principal again anyway.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import ipywidgets as w
from traitlets import Unicode


@dataclass(frozen=True)
class NavEntry:
    key: str
    title: str
    icon: str
    group: str


class NavBar(w.VBox):
    """Pages grouped under their group's name; clicking one sets ``value`` to its key."""

    value = Unicode("")

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_class("vision-nav")
        self.buttons: dict[str, w.Button] = {}
        self._titles: tuple[tuple[str, str], ...] = ()
        self.observe(self._highlight, "value")

    @property
    def options(self) -> tuple[tuple[str, str], ...]:
        """``(title, key)`` of every entry, in order."""
        return self._titles

    def set_entries(self, entries: Sequence[NavEntry]) -> None:
        """Show these entries (a group appears only when it has one); nothing is selected."""
        old = self.children
        self.buttons = {}
        groups: dict[str, list[w.Widget]] = {}
        for entry in entries:
            button = w.Button(description=entry.title, icon=entry.icon, tooltip=entry.title,
                              layout=w.Layout(width="100%"))
            button.on_click(lambda _b, key=entry.key: self._clicked(key))
            self.buttons[entry.key] = button
            groups.setdefault(entry.group, []).append(button)
        boxes = []
        for name, buttons in groups.items():
            heading = w.Label(name)
            heading.add_class("vision-nav-group-name")
            box = w.VBox([heading, *buttons])
            box.add_class("vision-nav-group")
            boxes.append(box)
        self._titles = tuple((e.title, e.key) for e in entries)
        self.value = ""
        self.children = tuple(boxes)
        for child in old:
            _close(child)

    def _clicked(self, key: str) -> None:
        self.value = key

    def _highlight(self, change) -> None:
        for key, button in self.buttons.items():
            if key == change["new"]:
                button.add_class("vision-nav-current")
            else:
                button.remove_class("vision-nav-current")

    def close(self) -> None:
        for child in self.children:
            _close(child)
        super().close()


def _close(widget: w.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close(child)
    widget.close()

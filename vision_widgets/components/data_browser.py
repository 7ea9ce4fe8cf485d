"""A browser for what lies under a connector: folders to go into, files and tables to pick.

It knows nothing of services: the page gives it ``browse(path) -> entries`` (objects with
``name``, ``path`` and ``kind`` — "folder", "file", "table" or "delta") and ``run``, its way of
calling a service with errors shown as a message, and ``background``, its way of running one off
the page's thread: listing a remote source can take as long as its timeouts (an unreachable
database, a cold warehouse), so the page says "Listing…" and stays usable meanwhile; the latest
request wins (an earlier one still running is ignored when it ends). A breadcrumb above the list goes back up; a
folder chosen in the list is opened; a file or table chosen fills the page's fields through the
"use" buttons the page asks for (e.g. "Use for training", "Use for production").

Names are shown as text (a ``Select``'s options and ``Button`` descriptions), never as HTML.
The browser keeps only what it lists: no connector setting, no secret.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage

#: Entry kinds that are picked rather than opened.
PICKABLE = ("file", "table", "delta")
_INDENT = "174px"  # the list's label width and the gaps before it
_SUFFIX = {"folder": "/", "table": "  · table", "delta": "  · Delta table", "file": ""}


def entry_label(entry: Any) -> str:
    """How an entry is listed: folders end with "/", tables say so."""
    return f"{entry.name}{_SUFFIX.get(entry.kind, '')}"


class DataBrowser(w.VBox):
    """Browse a connector: breadcrumb, a list of what is under the current folder, "use" buttons.

    Parameters
    ----------
    run
        ``run(status, fn, *args)``: calls ``fn`` and shows its error in ``status`` (a page's ``run``).
    uses
        ``{button text: callback(path)}``: what a picked file or table can be used for.
    folder_uses
        ``{button text: callback(path)}``: what the folder listed now can be used for (e.g. a
        scheduled pull of its new files); enabled once inside a folder.
    label
        The list's accessible name.
    background
        ``background(status, fn, *args, on_done=callback)``: runs ``fn`` off the page's thread and
        calls ``callback(result)`` when it succeeded (a view's ``run_in_background`` with
        ``when_busy="queue"``). Without it, listing blocks the page (only for what cannot be slow).
    """

    def __init__(self, run: Callable[..., Any], uses: dict[str, Callable[[str], None]],
                 folder_uses: dict[str, Callable[[str], None]] | None = None, label: str = "Browse",
                 background: Callable[..., Any] | None = None) -> None:
        self._run = run
        self._background = background
        self._request = 0  # the latest listing asked for: only its answer is shown
        self._browse: Callable[[str], Sequence[Any]] | None = None
        self.root = ""
        #: The folders gone into, as (name, path) pairs: the breadcrumb.
        self.trail: tuple[tuple[str, str], ...] = ()
        self.entries: tuple[Any, ...] = ()
        # the breadcrumb and the buttons line up with the list, right of its label
        self.crumbs = w.HBox(layout=w.Layout(flex_flow="row wrap", align_items="center", margin=f"0 0 0 {_INDENT}"))
        self.crumbs.add_class("vision-breadcrumb")
        self.listing = w.Select(options=(), rows=8, description=label)
        self.listing.style.description_width = "160px"
        self.listing.layout.width = "584px"
        self.listing.observe(self._on_choose, "value")
        self.picked = w.Label("")
        self.buttons = []
        for text, callback in uses.items():
            button = forms.button(text, icon="arrow-right")
            button.disabled = True
            button.on_click(lambda _b, cb=callback: self._use(cb))
            self.buttons.append(button)
        self.folder_buttons = []
        for text, callback in (folder_uses or {}).items():
            button = forms.button(text, icon="folder-open")
            button.disabled = True
            button.on_click(lambda _b, cb=callback: self.trail and cb(self.current))
            self.folder_buttons.append(button)
        self.status = StatusMessage()
        super().__init__([self.crumbs, self.listing,
                          w.HBox([*self.buttons, *self.folder_buttons, self.picked],
                                 layout=w.Layout(align_items="center", flex_flow="row wrap", margin=f"0 0 0 {_INDENT}")),
                          self.status])
        self.add_class("vision-data-browser")

    # -- what the page calls ---------------------------------------------------------------
    def show(self, root: str, browse: Callable[[str], Sequence[Any]] | None) -> None:
        """Browse from the top of ``root`` (a connector's name) with ``browse``; ``None`` empties it."""
        self.root, self._browse, self.trail = root, browse, ()
        self._load("")

    @property
    def current(self) -> str:
        """The path of the folder listed now ("" at the top)."""
        return self.trail[-1][1] if self.trail else ""

    def go_into(self, path: str, name: str) -> None:
        """Go into folder ``path`` (listed as ``name`` in the breadcrumb), once it is listed."""
        trail = self.trail + ((name, path),)
        self._load(path, trail)

    def up_to(self, depth: int) -> None:
        """Go back to the breadcrumb's ``depth``-th folder (0: the top), once it is listed."""
        trail = self.trail[:depth]
        self._load(trail[-1][1] if trail else "", trail)

    @property
    def selected(self) -> Any | None:
        """The file or table chosen in the list, if any."""
        index = self.listing.value
        if index is None or not (0 <= index < len(self.entries)):
            return None
        entry = self.entries[index]
        return entry if entry.kind in PICKABLE else None

    # -- inside ----------------------------------------------------------------------------
    def _load(self, path: str, trail: tuple[tuple[str, str], ...] = ()) -> None:
        """List ``path``; once listed, show it with the breadcrumb ``trail`` (unchanged if it fails)."""
        self._request += 1
        request, browse = self._request, self._browse
        self.status.clear()
        if browse is None:
            self._listed(request, trail, ())
        elif self._background is None:
            found = self._run(self.status, browse, path)
            if found is not None:
                self._listed(request, trail, found)
        else:
            if not trail:  # a new source (or its top): what the last one listed must not stay pickable
                self._listed(request, self.trail, (), quiet=True)
            self.status.show("Listing…")
            self._background(self.status, browse, path,
                             on_done=lambda found: self._listed(request, trail, found))

    def _listed(self, request: int, trail: tuple[tuple[str, str], ...], found: Sequence[Any],
                quiet: bool = False) -> None:
        if request != self._request:  # a later listing was asked for meanwhile
            return
        if not quiet:
            self.status.clear()
            self.trail = trail
        self.entries = tuple(found)
        self.listing.unobserve(self._on_choose, "value")
        try:
            with self.listing.hold_sync():
                self.listing.options = [(entry_label(e), i) for i, e in enumerate(self.entries)]
                self.listing.value = None
        finally:
            self.listing.observe(self._on_choose, "value")
        self._picked(None)
        if self._browse is not None and not self.entries and not quiet:
            self.status.show("Nothing here that Vision AI can read.")
        self._draw_crumbs()

    def _draw_crumbs(self) -> None:
        parts: list[w.Widget] = []
        for depth, name in enumerate([self.root or "top", *(n for n, _ in self.trail)]):
            if depth:
                parts.append(w.Label("›"))
            crumb = w.Button(description=name, layout=w.Layout(width="auto"),
                             tooltip="Go back to " + name, disabled=depth == len(self.trail))
            crumb.add_class("vision-crumb")
            crumb.on_click(lambda _b, d=depth: self.up_to(d))
            parts.append(crumb)
        self.crumbs.children = tuple(parts)
        for button in self.folder_buttons:  # only inside a folder (a database has none)
            button.disabled = not self.trail
            button.layout.display = "flex" if self.trail else "none"

    def _on_choose(self, change) -> None:
        index = change["new"]
        if index is None or not (0 <= index < len(self.entries)):
            self._picked(None)
            return
        entry = self.entries[index]
        if entry.kind == "folder":
            self.go_into(entry.path, entry.name)
        else:
            self._picked(entry)

    def _picked(self, entry: Any | None) -> None:
        self.picked.value = f"Chosen: {entry.name}" if entry is not None else ""
        for button in self.buttons:
            button.disabled = entry is None

    def _use(self, callback: Callable[[str], None]) -> None:
        entry = self.selected  # the browser can click a disabled button: check again
        if entry is not None:
            callback(entry.path)

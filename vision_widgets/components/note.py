"""A paragraph of plain text that wraps: ``Note("...")``, set ``note.text`` to change it.

A ``Label`` is one line cut with an ellipsis, which hides the end of a long sentence (a date, a
folder name). This is an ``HTML`` widget fed only escaped text, so it wraps like a paragraph
and still shows user input as text, never as markup.
"""
from __future__ import annotations

import ipywidgets as w
from traitlets import Unicode, observe

from vision_widgets.components.safe_html import escape


class Note(w.HTML):
    """Wrapping plain text; ``text`` (not synced) is the source, ``value`` its escaped HTML."""

    text = Unicode("")

    def __init__(self, text: str = "", muted: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.add_class("vision-note")
        if muted:
            self.add_class("vision-muted")
        self.text = text
        self._render()

    @observe("text")
    def _render(self, _change=None) -> None:
        self.value = (f'<div style="white-space: normal; overflow-wrap: anywhere; line-height: 1.4">'
                      f"{escape(self.text)}</div>") if self.text else ""

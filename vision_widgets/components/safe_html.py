"""The one place untrusted text becomes HTML: everything goes through ``escape``.

ipywidgets' ``HTML`` widget sets ``innerHTML`` unsanitised, so usernames,
model names, file contents and LLM answers must never be formatted into it
raw. Tables are cheaper as one escaped HTML string than as hundreds of
``Label`` widgets, so they are built here.
"""
from __future__ import annotations

import html
from typing import Iterable, Sequence

import ipywidgets as w


def escape(value: object) -> str:
    """HTML-escape ``value`` (quotes too); ``None`` becomes an empty string."""
    return "" if value is None else html.escape(str(value), quote=True)


def table_html(columns: Sequence[str], rows: Iterable[Sequence[object]], empty: str = "Nothing to show.") -> str:
    """An HTML table whose every header and cell is escaped."""
    head = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(v)}</td>" for v in row) + "</tr>" for row in rows)
    if not body:
        body = f'<tr><td colspan="{len(columns)}" class="vision-empty">{escape(empty)}</td></tr>'
    return f'<table class="vision-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


class SafeTable(w.HTML):
    """An HTML widget that only ever shows an escaped table."""

    def __init__(self, columns: Sequence[str], empty: str = "Nothing to show.", **kwargs) -> None:
        super().__init__(**kwargs)
        self._columns = tuple(columns)
        self._empty = empty
        self.add_class("vision-table-wrap")
        self.update(())

    def update(self, rows: Iterable[Sequence[object]]) -> None:
        """Replace the rows (each cell is escaped)."""
        self.value = table_html(self._columns, rows, self._empty)

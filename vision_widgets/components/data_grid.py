"""A long table as a data grid: sortable, filterable columns and rows that open something when clicked.

Built on ipydatagrid: the grid is drawn on a canvas, so a cell's text (a model name, an owner) is
painted as text and can never become HTML. Sorting and filtering run in the browser (the column
header's menu); the kernel learns which *data* row a click hit from the grid's ``cell-click``
message (``primary_key_row``), so a click on a sorted or filtered grid opens the right row.

Keyboard: the grid takes focus with Tab and moves its selection with the arrow keys; a selected
row is opened like a clicked one (``selections`` are in view coordinates, mapped back through
the grid's ``get_visible_data``).

The browser can send any ``cell-click`` message or set ``selections``: the row index is checked
here, and whatever ``on_open`` does must check permission in its service.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence

import ipywidgets as w
import pandas as pd
from ipydatagrid import DataGrid, TextRenderer

ROW_HEIGHT = 30
HEADER_HEIGHT = 32
MAX_VISIBLE_ROWS = 12

#: Dark text on white and a blue selection: contrast over 4.5:1 (WCAG AA).
GRID_STYLE = {
    "background_color": "#ffffff",
    "header_background_color": "#f3f5f8",
    "grid_line_color": "#e3e6eb",
    "header_grid_line_color": "#d5d9e0",
    "selection_fill_color": "rgba(37, 99, 235, 0.14)",
    "selection_border_color": "#2563eb",
    "header_selection_fill_color": "rgba(37, 99, 235, 0.14)",
    "cursor_fill_color": "rgba(37, 99, 235, 0.14)",
    "cursor_border_color": "#2563eb",
}


def grid_height(rows: int) -> int:
    """Pixels for the header and up to ``MAX_VISIBLE_ROWS`` rows (more rows scroll)."""
    return HEADER_HEIGHT + ROW_HEIGHT * max(1, min(rows, MAX_VISIBLE_ROWS)) + 12


class DataTable(w.VBox):
    """Rows of plain values under named columns; ``on_open(callback)`` gets a clicked row's key.

    Parameters
    ----------
    columns
        Column headers, in order. The first column is the row's key (what ``on_open`` receives).
    empty
        What to say when there are no rows (the grid is hidden then).
    noun
        Singular and plural of what a row is, for the line that counts them.
    widths
        Optional ``{column: pixels}``.
    """

    def __init__(self, columns: Sequence[str], empty: str = "Nothing to show.",
                 widths: dict[str, int] | None = None, label: str = "", noun: tuple[str, str] = ("row", "rows")) -> None:
        self.columns = tuple(columns)
        self.noun = noun
        self._rows: tuple[tuple, ...] = ()
        self._callbacks: list[Callable[[str], None]] = []
        self.grid = DataGrid(
            self._frame(()), selection_mode="row", base_row_size=ROW_HEIGHT,
            base_column_header_size=HEADER_HEIGHT, base_column_size=140, column_widths=dict(widths or {}),
            header_visibility="column", grid_style=GRID_STYLE,
            default_renderer=TextRenderer(text_color="#1f2933", font="13px sans-serif"),
            header_renderer=TextRenderer(text_color="#1f2933", font="bold 13px sans-serif",
                                         background_color="#f3f5f8"),
            layout=w.Layout(width="100%", max_width=f"{sum(widths.values()) + 24}px" if widths else "100%",
                            height=f"{HEADER_HEIGHT + 2}px"),
        )
        self.grid.add_class("vision-data-grid")
        if label:  # read by screen readers and by tests finding the grid by its name
            self.grid.add_class("vision-grid-" + "-".join(label.lower().split()))
        self.grid.on_cell_click(self._on_click)
        self.grid.observe(self._on_selection, "selections")
        self.empty = w.Label(empty)
        self.empty.add_class("vision-muted")
        self.count = w.Label("")
        self.count.add_class("vision-muted")
        super().__init__([self.grid, self.empty, self.count])
        self.add_class("vision-data-table")
        self.update(())

    # -- data ----------------------------------------------------------------------------------
    def _frame(self, rows: Iterable[Sequence[object]]) -> pd.DataFrame:
        frame = pd.DataFrame([tuple(r) for r in rows], columns=list(self.columns))
        if frame.empty:
            frame = pd.DataFrame({c: pd.Series(dtype=object) for c in self.columns})
        return frame

    @property
    def rows(self) -> tuple[tuple, ...]:
        """The rows as given to ``update`` (the grid's data order, before any sort in the browser)."""
        return self._rows

    def update(self, rows: Iterable[Sequence[object]]) -> None:
        """Replace every row; a selection is cleared (it named rows that may be gone). The same
        rows again change nothing (no new data to the browser, no repaint of the grid)."""
        rows = tuple(tuple(r) for r in rows)
        n = len(rows)
        if rows != self._rows:
            self._rows = rows
            with self.grid.hold_sync():
                self.grid.selections = []
                self.grid.data = self._frame(rows)
                self.grid.layout.height = f"{grid_height(n)}px"
        self.grid.layout.display = "" if n else "none"
        self.empty.layout.display = "none" if n else ""
        # The grid is a canvas: this line is what a screen reader (and a browser test) can read.
        counted = f"{n:,} {self.noun[0] if n == 1 else self.noun[1]}"
        self.count.value = "" if not n else counted if n <= MAX_VISIBLE_ROWS else (
            f"{counted}: scroll the table, or sort and filter from a column's header menu.")

    # -- opening a row ---------------------------------------------------------------------------
    def on_open(self, callback: Callable[[str], None]) -> None:
        """Call ``callback(key)`` when a row is clicked or selected with the keyboard."""
        self._callbacks.append(callback)

    def open_row(self, index: int) -> None:
        """Open data row ``index`` (as a click on it does); out-of-range indexes are ignored."""
        if isinstance(index, int) and 0 <= index < len(self._rows):
            key = str(self._rows[index][0])
            for callback in self._callbacks:
                callback(key)

    def _on_click(self, cell: dict) -> None:
        if cell.get("region") != "body":
            return
        row = cell.get("primary_key_row")
        if isinstance(row, int):
            self.open_row(row)

    def _on_selection(self, change) -> None:
        selections = change["new"] or []
        if len(selections) != 1:
            return
        r = selections[0].get("r1")
        if not isinstance(r, int) or r != selections[0].get("r2"):
            return
        try:
            visible = self.grid.get_visible_data()
        except Exception:  # noqa: BLE001 - a selection the browser made up must not break the page
            return
        if 0 <= r < len(visible):
            key = str(visible.iloc[r, 0])
            for callback in self._callbacks:
                callback(key)

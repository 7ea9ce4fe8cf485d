"""The data-grid component: its data is the rows given, a click or a keyboard selection opens the
right row even after the browser sorted the grid, and made-up messages open nothing."""
from __future__ import annotations

from vision_widgets.components.data_grid import MAX_VISIBLE_ROWS, DataTable, grid_height

ROWS = [("Alpha", "dana", 0.1), ("Bravo", "eve", 0.7), ("<img src=x onerror=alert(1)>", "dana", 0.4)]


def _table():
    opened: list[str] = []
    table = DataTable(("Model", "Owner", "Drift"), empty="No models match.")
    table.on_open(opened.append)
    table.update(ROWS)
    return table, opened


def _click(table, data_row):
    table.grid._handle_custom_msg({"event_type": "cell-click", "region": "body", "column": "Model",
                                   "column_index": 0, "row": 0, "primary_key_row": data_row, "cell_value": ""}, [])


def test_the_grid_holds_the_rows_as_data_not_html():
    table, _ = _table()
    frame = table.grid.data
    assert list(frame.columns) == ["Model", "Owner", "Drift"]
    assert [tuple(r) for r in frame.itertuples(index=False)] == ROWS
    assert table.grid.layout.display == "" and table.empty.layout.display == "none"
    assert table.count.value == "3 rows"  # the canvas is not read by screen readers: this line is


def test_a_click_opens_the_data_row_it_hit_even_when_the_browser_sorted_the_grid():
    table, opened = _table()
    # the browser sorts by Drift, descending: view row 0 is data row 1 ("Bravo"); the click
    # message carries the data row (primary_key_row), whatever the view order
    table.grid._transforms = [{"type": "sort", "column": "Drift", "desc": True}]
    table.grid._visible_rows = [1, 2, 0]
    _click(table, 1)
    assert opened == ["Bravo"]
    _click(table, 2)
    assert opened == ["Bravo", ROWS[2][0]]


def test_a_keyboard_selection_opens_the_row_shown_there():
    table, opened = _table()
    table.grid._visible_rows = [1, 2, 0]  # sorted in the browser
    table.grid.selections = [{"r1": 2, "c1": 0, "r2": 2, "c2": 2}]
    assert opened == ["Alpha"]


def test_header_clicks_and_made_up_rows_open_nothing():
    table, opened = _table()
    table.grid._handle_custom_msg({"event_type": "cell-click", "region": "column-header", "column": "Model",
                                   "column_index": 0, "row": 0, "primary_key_row": 0, "cell_value": "Model"}, [])
    _click(table, 99)
    _click(table, -1)
    table.grid.selections = [{"r1": 50, "c1": 0, "r2": 50, "c2": 2}]
    assert opened == []


def test_no_rows_shows_the_empty_text_and_many_rows_say_how_many():
    table, _ = _table()
    table.update(())
    assert table.grid.layout.display == "none" and table.empty.layout.display == ""
    assert table.empty.value == "No models match." and table.count.value == ""
    table.update([(f"m{i:04d}", "dana", 0.0) for i in range(1000)])
    assert len(table.grid.data) == 1000
    assert table.count.value.startswith("1,000 rows")
    assert table.grid.layout.height == f"{grid_height(MAX_VISIBLE_ROWS)}px"  # scrolls, not 1,000 rows tall

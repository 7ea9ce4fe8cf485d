"""Small form helpers so every page lays out its fields the same way.

A field's name is the input's own ``description``: ipywidgets renders it as a ``<label for=…>``
tied to the input, so a screen reader (and Playwright's ``get_by_label``) finds every input by
its name. Only a field holding something other than one input (a row of controls) gets a plain
label beside it, and its first input gets the same name as its ``description`` hidden from view.
"""
from __future__ import annotations

import ipywidgets as w

_LABEL_WIDTH = "160px"
_INPUT_WIDTH = "260px"

#: inputs whose description becomes a label tied to them (buttons and checkboxes name themselves)
_NAMED = (w.Text, w.Textarea, w.Password, w.Dropdown, w.Select, w.SelectMultiple, w.IntText, w.FloatText,
          w.BoundedIntText, w.BoundedFloatText, w.Combobox, w.DatePicker)


def _px(width: str | None, default: str) -> int:
    value = width or default
    return int(value[:-2]) if value.endswith("px") else int(default[:-2])


def label(widget: w.Widget, description: str, width: str = _LABEL_WIDTH) -> w.Widget:
    """Name ``widget`` with a visible label tied to it, keeping the input as wide as it was."""
    input_width = _px(widget.layout.width, _INPUT_WIDTH)
    widget.description = description
    widget.style.description_width = width
    widget.layout.width = f"{input_width + _px(width, _LABEL_WIDTH) + 4}px"
    return widget


def field(description: str, widget: w.Widget) -> w.HBox:
    """A row: the field's name, then the input (a label tied to it when it is one input)."""
    if isinstance(widget, _NAMED) and not widget.description:
        return w.HBox([label(widget, description)], layout=w.Layout(align_items="center"))
    visible = w.Label(description, layout=w.Layout(width=_LABEL_WIDTH, flex="0 0 auto"))
    first = next((c for c in getattr(widget, "children", ()) if isinstance(c, _NAMED)), None)
    if first is not None and not first.tooltip:
        first.tooltip = description  # its accessible name when the label cannot be tied to it
    return w.HBox([visible, widget], layout=w.Layout(align_items="center"))


def text(placeholder: str = "", **kwargs) -> w.Text:
    return w.Text(placeholder=placeholder, layout=w.Layout(width=_INPUT_WIDTH), **kwargs)


def password(placeholder: str = "", **kwargs) -> w.Password:
    return w.Password(placeholder=placeholder, layout=w.Layout(width=_INPUT_WIDTH), **kwargs)


def button(description: str, style: str = "", icon: str = "") -> w.Button:
    return w.Button(description=description, button_style=style, icon=icon, layout=w.Layout(width="auto"))


def muted(value: str = "") -> w.Label:
    """A quieter line of plain text: a hint, a note under a table."""
    note = w.Label(value)
    note.add_class("vision-muted")
    return note


def section(title: str, *children: w.Widget) -> w.VBox:
    """A titled card."""
    heading = w.Label(title)
    heading.add_class("vision-section-title")
    box = w.VBox([heading, *children])
    box.add_class("vision-card")
    return box

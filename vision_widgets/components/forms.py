"""Small form helpers so every page lays out its fields the same way."""
from __future__ import annotations

import ipywidgets as w

_LABEL_WIDTH = "160px"


def field(description: str, widget: w.Widget) -> w.HBox:
    """A row: a fixed-width label, then the input widget."""
    label = w.Label(description, layout=w.Layout(width=_LABEL_WIDTH))
    return w.HBox([label, widget], layout=w.Layout(align_items="center"))


def text(placeholder: str = "", **kwargs) -> w.Text:
    return w.Text(placeholder=placeholder, layout=w.Layout(width="260px"), **kwargs)


def password(placeholder: str = "") -> w.Password:
    return w.Password(placeholder=placeholder, layout=w.Layout(width="260px"))


def button(description: str, style: str = "", icon: str = "") -> w.Button:
    return w.Button(description=description, button_style=style, icon=icon, layout=w.Layout(width="auto"))


def section(title: str, *children: w.Widget) -> w.VBox:
    """A titled card."""
    heading = w.Label(title)
    heading.add_class("vision-section-title")
    box = w.VBox([heading, *children])
    box.add_class("vision-card")
    return box

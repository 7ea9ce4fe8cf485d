"""A download link for content the kernel holds (no open static folder involved).

The file travels inside the page as a ``data:`` URI, so only a logged-in user
whose kernel built the link can fetch it. The file name is escaped; the
content is base64, which cannot break out of the attribute.
"""
from __future__ import annotations

import base64

import ipywidgets as w

from vision_widgets.components.safe_html import escape


def download_anchor(filename: str, content: bytes, text: str, mime: str = "application/octet-stream") -> str:
    """The ``<a download>`` markup itself, for an HTML widget that is reused (and later emptied)."""
    data = base64.b64encode(content).decode("ascii")
    return (f'<a class="vision-download" download="{escape(filename)}" href="data:{escape(mime)};base64,{data}">'
            f"{escape(text)}</a>")


def download_link(filename: str, content: bytes, text: str, mime: str = "application/octet-stream") -> w.HTML:
    return w.HTML(download_anchor(filename, content, text, mime))

"""A download link for content the kernel holds (no open static folder involved).

The file travels inside the page as a ``data:`` URI, so only a logged-in user
whose kernel built the link can fetch it. The file name is escaped; the
content is base64, which cannot break out of the attribute.
"""
from __future__ import annotations

import base64

import ipywidgets as w

from vision_widgets.components.safe_html import escape


def download_link(filename: str, content: bytes, text: str, mime: str = "application/octet-stream") -> w.HTML:
    data = base64.b64encode(content).decode("ascii")
    return w.HTML(
        f'<a class="vision-download" download="{escape(filename)}" href="data:{escape(mime)};base64,{data}">'
        f"{escape(text)}</a>"
    )

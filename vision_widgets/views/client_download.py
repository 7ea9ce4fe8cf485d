"""Downloading the client notebook from a model's page: pre-filled, with a token only when asked.

The notebook's parameters cell comes filled in (``services.client_download``): the server's public
address (``VISION_PUBLIC_URL``, else the address this browser used), the model's name and its column
roles. Ticking "include a new upload token" and preparing the download issues a token through the
service (owner or admin; audited); the link that carries it is the only place it exists in this
kernel, and that link is removed after ``TOKEN_LINK_SECONDS`` or when the person says it is saved.
"""
from __future__ import annotations

import logging
import threading

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.download import download_anchor, download_link
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.note import Note
from vision_widgets.core.config import CLIENT_MODULE, CLIENT_NOTEBOOK, public_url
from vision_widgets.services import client_download

log = logging.getLogger(__name__)

#: How long the link to a notebook holding an upload token stays on the page.
TOKEN_LINK_SECONDS = 120.0
NOTEBOOK_MIME = "application/x-ipynb+json"


def server_address(settings) -> str:
    """Where the client notebook should send to: ``VISION_PUBLIC_URL``, else this browser's address.

    The request's address is in this kernel's environment: Voila puts it there when it starts a
    kernel for the request, and ``browser_session.when_requested`` waits for it in a preheated one
    when the page opens. Never wait for it again here: Voila hands the request info to the one
    connection waiting when it arrives and keeps no copy, so a second ``wait_for_request()``
    would block this kernel for good.
    """
    return public_url(settings)


def client_module_link() -> w.HTML:
    return download_link(CLIENT_MODULE.name, CLIENT_MODULE.read_bytes(), "Download client.py", "text/x-python")


def blank_downloads() -> w.HBox:
    """The client notebook as shipped and client.py (where no model is chosen yet)."""
    links = [download_link(CLIENT_NOTEBOOK.name, CLIENT_NOTEBOOK.read_bytes(), "Download the client notebook",
                           NOTEBOOK_MIME), client_module_link()]
    return w.HBox(links, layout=w.Layout(grid_gap="20px"))


class ClientDownloads(w.VBox):
    """The client notebook filled in for one model, client.py, and (for its managers) a token option."""

    def __init__(self, view, model: str, may_issue_token: bool) -> None:
        super().__init__()
        self.view = view
        self.model = model
        self.status = StatusMessage()
        self.server_url = server_address(view.ctx.settings)
        built = view.run(self.status, client_download.client_notebook, view.ctx, view.principal, model,
                         self.server_url)
        self.notebook_link = download_link(built.filename, built.content, "Download the client notebook",
                                           NOTEBOOK_MIME) if built else w.HTML("")
        self.where = Note(f"Pre-filled for {model}: it sends to {self.server_url}.")
        self.include_token = w.Checkbox(value=False, description="Include a new upload token", indent=False,
                                        layout=w.Layout(width="auto"))
        self.prepare = forms.button("Prepare notebook with token", icon="key")
        self.prepare.layout.display = "none"
        self.token_link = w.HTML("")
        self.token_note = Note()
        self.saved = forms.button("I have saved it")
        self.token_box = w.VBox([self.token_note, w.HBox([self.token_link, self.saved],
                                                         layout=w.Layout(grid_gap="20px", align_items="center"))])
        self.token_box.layout.display = "none"
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self.include_token.observe(self._on_include, "value")
        self.prepare.on_click(self._on_prepare)
        self.saved.on_click(lambda _b: self.clear_token())
        children: list[w.Widget] = [w.HBox([self.notebook_link, client_module_link()],
                                           layout=w.Layout(grid_gap="20px")), self.where]
        if may_issue_token:
            children += [w.HBox([self.include_token, self.prepare], layout=w.Layout(grid_gap="12px",
                                                                                     align_items="center")),
                         self.token_box]
        children.append(self.status)
        self.children = tuple(children)

    def _on_include(self, _change=None) -> None:
        self.prepare.layout.display = "flex" if self.include_token.value else "none"
        if not self.include_token.value:
            self.clear_token()

    def _on_prepare(self, _button=None) -> None:
        self.status.clear()
        self.clear_token()
        if not self.include_token.value:  # the browser can click a hidden button
            self.status.error("Tick \u201cInclude a new upload token\u201d first.")
            return
        built = self.view.run(self.status, client_download.client_notebook, self.view.ctx, self.view.principal,
                              self.model, self.server_url, include_token=True)
        if built is None:
            return
        with self._lock:
            self.token_link.value = download_anchor(built.filename, built.content,
                                                    "Download the notebook with its token", NOTEBOOK_MIME)
            self.token_note.text = (
                f"This notebook holds a new upload token, valid until {built.token_expires:%Y-%m-%d %H:%M} UTC for "
                f"one submission; it replaces any unused one. Keep the file private. The link is removed in "
                f"{TOKEN_LINK_SECONDS / 60:.0f} minutes or when you click \u201cI have saved it\u201d.")
            self.token_box.layout.display = "flex"
            self._timer = threading.Timer(TOKEN_LINK_SECONDS, self.clear_token)
            self._timer.daemon = True
            self._timer.start()
        del built  # the token lives on only in the link

    def clear_token(self) -> None:
        """Remove the link that carries the token (and with it the token) from the page."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self.token_link.value = ""
            self.token_note.text = ""
            self.token_box.layout.display = "none"

    def close(self) -> None:
        self.clear_token()
        super().close()

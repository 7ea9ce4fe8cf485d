"""What an owner or an admin can do to a model: add production data, submit client profiles,
issue an upload token, delete it. Built only for principals who may manage the model; every
action is checked again by the service."""
from __future__ import annotations

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import when
from vision_widgets.components.progress import ProgressBar
from vision_widgets.services import catalog
from vision_widgets.services import model360
from vision_widgets.services import submissions
from vision_widgets.views.base import succeeded
from vision_widgets.views.client_download import ClientDownloads


class TokenBox(w.VBox):
    """Shows an upload token once; "I have copied it" wipes it from the widget."""

    def __init__(self) -> None:
        self.token = w.Text(disabled=True, layout=w.Layout(width="480px"))
        self.note = w.Label("")
        self.hide = forms.button("I have copied it")
        self.hide.on_click(lambda _b: self.clear())
        super().__init__([self.note, w.HBox([self.token, self.hide])])
        self.layout.display = "none"

    def show(self, token: str, expires) -> None:
        self.token.value = token
        self.note.value = (f"Upload token (shown once, valid until {when(expires, ' UTC')}, for one submission). "
                           "Paste it into the notebook's parameters cell.")
        self.layout.display = "flex"

    def clear(self) -> None:
        self.token.value = ""
        self.note.value = ""
        self.layout.display = "none"


class ModelActions(w.VBox):
    def __init__(self, view, data: model360.Model360) -> None:
        super().__init__()
        self.view = view
        self.name = data.model.name
        self.status = StatusMessage()
        self.progress = ProgressBar()
        parts: list[w.Widget] = []
        if data.model.restricted:
            self.upload = w.FileUpload(accept=".json", multiple=False, description="Choose file")
            self.submit = forms.button("Submit profiles", style="primary", icon="upload")
            self.submit.on_click(self._on_submit_file)
            self.new_token = forms.button("New upload token", icon="key")
            self.new_token.on_click(self._on_new_token)
            self.token_box = TokenBox()
            parts.append(forms.section(
                "Add data (restricted: profiles computed on your machine)",
                w.Label("Run the client notebook where the data lives; it sends the profiles with an upload token, "
                        "or writes a JSON file you submit here."),
                ClientDownloads(view, self.name, may_issue_token=True),
                w.HBox([self.upload, self.submit]),
                self.progress,
                self.new_token,
                self.token_box,
            ))
        else:
            self.path = forms.text("Path of a CSV or Parquet file")
            self.path.layout.width = "420px"
            self.label = forms.text("e.g. November batch")
            self.add = forms.button("Add production data", style="primary", icon="plus")
            self.add.on_click(self._on_add)
            parts.append(forms.section(
                "Add production data",
                forms.field("File", self.path),
                forms.field("Label", self.label),
                self.add,
                self.progress,
            ))
        self.delete = forms.button("Delete model…", style="danger", icon="trash")
        self.confirm = forms.button("Confirm deletion", style="danger")
        self.cancel = forms.button("Cancel")
        self.confirm_text = w.Label("")
        self.confirm_box = w.HBox([self.confirm_text, self.confirm, self.cancel])
        self.confirm_box.layout.display = "none"
        self.delete.on_click(self._on_delete_asked)
        self.confirm.on_click(self._on_delete_confirmed)
        self.cancel.on_click(lambda _b: self._hide_confirm())
        parts.append(forms.section("Delete", self.delete, self.confirm_box))
        parts.append(self.status)
        self.children = tuple(parts)

    # -- production data (unrestricted) --------------------------------------------------
    def _on_add(self, _button=None) -> None:
        self.status.clear()
        self.progress.start()

        def done(_report) -> None:
            self.view.reload(self.name, "Production data added; drift updated.")

        self.view.run_in_background(self.status, submissions.add_production_batch, self.view.ctx,
                                    self.view.principal, self.name, self.path.value, self.label.value,
                                    progress=self.progress.update, bar=self.progress, on_done=done)

    # -- restricted ------------------------------------------------------------------------
    def _on_submit_file(self, _button=None) -> None:
        self.status.clear()
        files = self.upload.value
        if not files:
            self.status.error("Choose the JSON file the client notebook wrote, then submit it.")
            return
        content = bytes(files[0]["content"])
        self.upload.value = ()
        self.progress.start("Checking the profiles and computing drift")

        def done(_result) -> None:
            self.view.reload(self.name, "Profiles accepted; drift updated.")

        # Parsing and drift run off the kernel's main thread, so the page stays responsive.
        self.view.run_in_background(self.status, submissions.submit_file, self.view.ctx, self.view.principal,
                                    self.name, content, bar=self.progress, on_done=done)

    def _on_new_token(self, _button=None) -> None:
        self.status.clear()
        issued = self.view.run(self.status, submissions.issue_upload_token, self.view.ctx, self.view.principal,
                               self.name)
        if issued is not None:
            self.token_box.show(*issued)

    # -- delete ------------------------------------------------------------------------------
    def _on_delete_asked(self, _button=None) -> None:
        self._delete_asked = True  # the browser can click the hidden confirm button
        self.confirm_text.value = f"Delete {self.name} and everything stored for it?"
        self.confirm_box.layout.display = "flex"

    def _hide_confirm(self) -> None:
        self._delete_asked = False
        self.confirm_box.layout.display = "none"

    def _on_delete_confirmed(self, _button=None) -> None:
        asked = getattr(self, "_delete_asked", False)
        self._hide_confirm()
        if not asked:
            return
        if self.view.run(self.status, succeeded, catalog.delete_model, self.view.ctx, self.view.principal,
                         self.name):
            self.view.forget(self.name)


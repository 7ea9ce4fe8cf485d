"""What an owner or an admin can do to a model: add production data (through its connector or another
one the account may use), schedule pulls of new data, submit client profiles, issue an upload token,
delete it. Built only for principals who may manage the model; every
action is checked again by the service."""
from __future__ import annotations

import functools

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.data_browser import DataBrowser
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.formatting import when
from vision_widgets.components.progress import ProgressBar
from vision_widgets.services import catalog, model360, scheduled_pulls, submissions
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services.scheduled_pulls import NEW_FILES, QUERY
from vision_widgets.views.base import BROWSE, succeeded
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
            usable = view.run(self.status, stored_connectors.list_connectors, view.ctx, view.principal) or []
            names = [c.name for c in usable if c.readable]
            if data.model.connector not in names:
                names.insert(0, data.model.connector)  # its own, even when it cannot be read now (says why)
            self.source = forms.label(w.Dropdown(options=[(f"{c.name} — {c.title}", c.name) for c in usable
                                                          if c.name in names] or names,
                                                 value=data.model.connector), "Connector")
            self.path = forms.label(forms.text("a file, folder or table under the connector"), "Data")
            self.path.layout.width = "584px"
            self.label = forms.label(forms.text("e.g. November batch"), "Label")
            self.add = forms.button("Add production data", style="primary", icon="plus")
            self.add.on_click(self._on_add)
            self.browser = DataBrowser(view.run, {"Use this data": self._use_for_batch},
                                       {"Pull this folder's new files": self._use_for_pull},
                                       label="Browse",
                                       background=functools.partial(view.run_in_background, when_busy="queue", lane=BROWSE))
            self.source.observe(self._on_source, "value")
            parts.append(forms.section(
                "Add production data",
                self.source,
                self.browser,
                self.path,
                self.label,
                self.add,
                self.progress,
            ))
            parts.append(self._pull_section(data))
            self._on_source()
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
    def _on_source(self, _change=None) -> None:
        name = self.source.value
        self.browser.show(name, lambda path: stored_connectors.browse(self.view.ctx, self.view.principal, name, path))

    def _use_for_batch(self, path: str) -> None:
        self.path.value = path

    def _use_for_pull(self, path: str) -> None:
        self.pull_reference.value = path
        self.pull_mode.value = NEW_FILES

    def _on_add(self, _button=None) -> None:
        self.status.clear()
        self.progress.start()

        def done(_report) -> None:
            self.view.reload(self.name, "Production data added; drift updated.")

        self.view.run_in_background(self.status, submissions.add_production_batch, self.view.ctx,
                                    self.view.principal, self.name, self.path.value, self.label.value,
                                    progress=self.progress.update, bar=self.progress, on_done=done,
                                    connector=self.source.value or "")

    # -- scheduled pulls (unrestricted) ---------------------------------------------------
    def _pull_section(self, data: model360.Model360) -> w.Widget:
        """Cadence, what to pull through the model's connector, and "pull now"."""
        self.pull_cadence = forms.label(forms.text("e.g. 1h, 1D, 7D"), "Cadence")
        self.pull_reference = forms.label(forms.text("a folder or prefix, or a table or query"), "Pull from")
        self.pull_reference.layout.width = "584px"
        self.pull_mode = forms.label(w.Dropdown(options=[
            ("each new file under a folder or prefix", NEW_FILES),
            ("a table or query, one batch per pull", QUERY)], value=NEW_FILES), "What is new")
        self.pull_mode.layout.width = "584px"
        self.pull_watermark = forms.label(forms.text("optional, e.g. updated_at"),
                                          "Watermark column")
        self.pull_save = forms.button("Save schedule", style="primary", icon="clock-o")
        self.pull_now = forms.button("Pull now", icon="download")
        self.pull_state = w.Label("")
        self.pull_outcome = w.Label("")
        self.pull_status = StatusMessage()
        self.pull_save.on_click(self._on_pull_save)
        self.pull_now.on_click(self._on_pull_now)
        found = self.view.run(self.pull_status, scheduled_pulls.get_pull, self.view.ctx, self.view.principal,
                              self.name)
        if found is not None:
            self._show_pull(found)
        return forms.section(
            f"Scheduled pull (through the connector {data.model.connector})",
            self.pull_cadence, self.pull_reference, self.pull_mode, self.pull_watermark,
            w.HBox([self.pull_save, self.pull_now]), self.pull_state, self.pull_outcome, self.pull_status,
        )

    def _show_pull(self, found: scheduled_pulls.PullSettings) -> None:
        self.pull_cadence.value = found.cadence
        self.pull_reference.value = found.reference
        self.pull_mode.value = found.mode
        self.pull_watermark.value = found.watermark
        last = f"last pulled {when(found.pulled_at, ' UTC')}" if found.pulled_at else "never pulled yet"
        if found.scheduled:
            state = f"Pulls every {found.cadence}; {last}"
            if found.mode == NEW_FILES:
                state += f"; {found.files_pulled} file(s) read so far"
        elif found.cadence:
            state = f"Expects production data every {found.cadence}; nothing is pulled automatically"
        else:
            state = "No schedule: production data is added by hand"
        if found.active_job is not None:
            state += f". A pull is queued or running (job {found.active_job})"
        self.pull_state.value = state + "."
        self.pull_outcome.value = found.last_outcome
        self.pull_outcome.layout.display = "flex" if found.last_outcome else "none"  # no empty line
        self.pull_now.disabled = not found.reference

    def _on_pull_save(self, _button=None) -> None:
        self.pull_status.clear()
        saved = self.view.run(self.pull_status, scheduled_pulls.set_pull, self.view.ctx, self.view.principal,
                              self.name, self.pull_cadence.value, self.pull_reference.value, self.pull_mode.value,
                              self.pull_watermark.value)
        if saved is not None:
            self._show_pull(saved)
            self.pull_status.success("Schedule saved." if saved.scheduled else "Saved.")

    def _on_pull_now(self, _button=None) -> None:
        self.pull_status.clear()
        job = self.view.run(self.pull_status, scheduled_pulls.pull_now, self.view.ctx, self.view.principal,
                            self.name)
        if job is not None:
            found = self.view.run(self.pull_status, scheduled_pulls.get_pull, self.view.ctx, self.view.principal,
                                  self.name)
            if found is not None:
                self._show_pull(found)
            self.pull_status.success(f"Pull queued (job {job.id}); the new batches appear in the drift history "
                                     "when it ends.")

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


"""Register a model: metadata, connector, column roles, and open or restricted data.

Open data is read through a stored connector the account may use: the page lists them,
browses what lies under the chosen one (folders, files, tables) and fills the training and
production references from it; the local type lists its data folders by name, never by path.

Open data is registered by a background job: the form checks at once what it
can (name, roles, paths) and queues the job; the page then follows the job by
polling its record about once a second while one is queued or running. The
job does not need this tab: close it, and the page opened later (a new kernel)
lists the running registrations with their progress and the finished ones with
their result or the reason they failed.
"""
from __future__ import annotations

import functools

import logging
import threading

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.data_browser import DataBrowser
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.job_list import JobList
from vision_widgets.components.note import Note
from vision_widgets.components.progress import ProgressBar
from vision_widgets.core.catalog.records import PLATFORMS, TASKS
from vision_widgets.core.identity import rbac
from vision_widgets.core.jobs.records import DONE, FAILED, Job
from vision_widgets.services import accounts, jobs, registration
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.views.base import BROWSE, PageView
from vision_widgets.views.client_download import ClientDownloads
from vision_widgets.views.model_actions import TokenBox

log = logging.getLogger(__name__)

#: Seconds between two looks at the job records while a registration is queued or running.
POLL_SECONDS = 1.0
#: Registrations listed on the page.
RECENT_JOBS = 10


def _outcome(job: Job) -> str:
    """A finished registration job in words: its drift verdict, or why it failed."""
    if job.state != DONE:
        return job.error
    result = job.result or {}
    if result.get("dataset_drift"):
        drifted = result.get("drifted_features") or []
        return f"registered — drift detected ({len(drifted)} feature(s))"
    return "registered — no dataset drift"


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in text.split(",") if c.strip())


def _labelled(widget: w.Widget, label: str, width: str = "260px") -> w.Widget:
    """``widget`` with its own ``<label>`` (screen readers and ``get_by_label`` find it), aligned
    with the other fields; ``width`` is the input's own width."""
    widget.description = label
    widget.style.description_width = _LABEL_WIDTH
    widget.layout.width = f"calc({_LABEL_WIDTH} + {width})"
    return widget


_LABEL_WIDTH = "160px"


def _folders_text(sources: registration.DataSources | None) -> str:
    """Where files are read, in words: the data folders by name (and, for admins, where they are)."""
    if sources is None or not sources.roots:
        return "No data folder is configured; ask an administrator to set VISION_DATA_ROOTS."
    first = sources.roots[0]
    text = (f"Files are read from the data folders {', '.join(sources.roots)}: give a file as "
            f"{first}/<file>.csv (a path without a folder name is read from {first}).")
    if sources.root_paths:
        where = "; ".join(f"{name} = {path}" for name, path in zip(sources.roots, sources.root_paths))
        text += f" On the server: {where}."
    return text


class RegisterView(PageView):
    """Register a model from open or restricted data (title and purpose: app.PAGES)."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.name = _labelled(forms.text("e.g. Fraud detection v2"), "Name")
        self.description = _labelled(w.Textarea(placeholder="What the model does"), "Description", "420px")
        self.task = _labelled(w.Dropdown(options=TASKS, value=TASKS[0]), "Task")
        self.platform = _labelled(w.Dropdown(options=PLATFORMS, value=PLATFORMS[0]), "Platform")
        self.sources_status = StatusMessage()
        sources = self.run(self.sources_status, registration.data_sources, ctx, self.principal)
        self.sources = sources
        choices = [(label, name) for name, label in (sources.connectors if sources else ())]
        self.connector = _labelled(w.Dropdown(options=choices), "Connector", "420px")
        if any(name == registration.LOCAL_TYPE for _, name in choices):
            self.connector.value = registration.LOCAL_TYPE
        self.owner = _labelled(w.Dropdown(options=()), "Owner")
        self.restricted = w.Checkbox(value=False, description="Restricted data (profiled on the client's machine)",
                                     indent=False, layout=w.Layout(width="auto"))
        self.restricted_note = Note(
            "Nothing is read on this server: after registering, run the client notebook where the data lives; "
            "it sends aggregate profiles only, with the upload token shown here once.")
        self.restricted_note.layout.display = "none"
        self.training = _labelled(forms.text("e.g. data/training.csv"), "Training data", "420px")
        self.production = _labelled(forms.text("e.g. data/production.csv"), "Production data", "420px")
        self.folders = Note(_folders_text(sources), muted=True)
        self.browser = DataBrowser(self.run, {
            "Use for training": lambda path: setattr(self.training, "value", path),
            "Use for production": lambda path: setattr(self.production, "value", path),
        }, label="Browse", background=functools.partial(self.run_in_background, when_busy="queue", lane=BROWSE))
        self.target = _labelled(forms.text("label column"), "Target")
        self.prediction = _labelled(forms.text("model output column"), "Prediction")
        self.timestamp = _labelled(forms.text("optional: date/time column"), "Timestamp")
        self.features = _labelled(forms.text("optional: a, b, c (default: all other columns)"), "Features", "420px")
        self.exclude = _labelled(forms.text("optional: ids, free text, personal data"), "Excluded", "420px")
        self.submit = forms.button("Register model", style="primary", icon="check")
        self.progress = ProgressBar()
        self.status = StatusMessage()
        self.token_box = TokenBox()
        self.next_steps = w.VBox()
        self.open_model = forms.button("Open in Model 360", icon="eye")
        self.open_model.layout.display = "none"
        self.registered = ""
        #: The job this page submitted and reports on in ``status`` (None: none, or it ended).
        self.watching: int | None = None
        self.jobs_status = StatusMessage()
        self.jobs = JobList("No registrations yet: the ones you submit are listed here, even after "
                            "you close this tab.", outcome=_outcome)
        self._stop_polling = threading.Event()
        self._poller: threading.Thread | None = None
        self.open_model.on_click(self._on_open)
        self.submit.on_click(self._on_submit)
        self.restricted.observe(self._on_restricted, "value")
        #: What only open data needs: where it comes from (hidden in restricted mode).
        self.open_data = w.VBox([self.connector, self.browser, self.training, self.production, self.folders])
        self.connector.observe(self._on_connector, "value")
        self._on_connector()
        self.paths = self.open_data
        if self.principal is not None and rbac.is_admin(self.principal):
            found = self.run(self.status, accounts.list_accounts, ctx, self.principal)
            names = tuple(a.username for a in found or ())
            self.owner.options = names
            self.owner.value = self.principal.username if self.principal.username in names else None
        else:
            self.owner.layout.display = "none"  # a user registers for themselves
        self.children = (
            forms.section("Model", self.name, self.description, self.task, self.platform, self.owner),
            forms.section("Data", self.restricted, self.restricted_note, self.open_data,
                          *((self.sources_status,) if sources is None else ())),
            forms.section("Column roles", self.target, self.prediction, self.timestamp, self.features, self.exclude),
            # the button, then what it caused, right under it
            w.VBox([w.HBox([self.submit]), self.progress, self.status, self.next_steps, w.HBox([self.open_model])]),
            forms.section("Your registrations", self.jobs_status, self.jobs),
        )
        if self.refresh_jobs():
            self._poll()

    def _on_connector(self, _change=None) -> None:
        """Browse the chosen connector from its top; the data folders' note is for the local type only."""
        name = self.connector.value
        local = self.sources is not None and name in self.sources.local_connectors
        self.folders.layout.display = "flex" if local else "none"
        self.training.placeholder = "e.g. data/training.csv" if local else "a file, folder or table (browse above)"
        self.production.placeholder = "e.g. data/production.csv" if local else "a file, folder or table (browse above)"
        browse = None if not name else (lambda path: stored_connectors.browse(self.ctx, self.principal, name, path))
        self.browser.show(name or "", browse)

    def _on_restricted(self, _change=None) -> None:
        restricted = self.restricted.value
        self.open_data.layout.display = "none" if restricted else "flex"
        self.restricted_note.layout.display = "flex" if restricted else "none"

    def spec(self) -> registration.ModelSpec:
        return registration.ModelSpec(
            name=self.name.value, task=self.task.value, description=self.description.value,
            platform=self.platform.value,
            connector="local" if self.restricted.value else (self.connector.value or "local"),
            target=self.target.value, prediction=self.prediction.value, timestamp=self.timestamp.value,
            features=_columns(self.features.value), exclude=_columns(self.exclude.value),
            owner=self.owner.value or "", restricted=self.restricted.value,
            # restricted: nothing is read here, whatever the hidden fields hold
            training="" if self.restricted.value else self.training.value,
            production="" if self.restricted.value else self.production.value,
        )

    def _on_submit(self, _button=None) -> None:
        self.status.clear()
        self.open_model.layout.display = "none"
        self.token_box.clear()
        self.next_steps.children = ()
        spec = self.spec()
        if spec.restricted:
            self._register_restricted(spec)
            return
        job = self.run(self.status, registration.submit_registration, self.ctx, self.principal, spec)
        if job is None:
            return
        self.watching = job.id
        self.progress.start("Waiting for a worker")
        self.status.show(f"{job.title}: queued. The registration goes on if you close this tab; "
                         "it is listed below whenever you come back.")
        self.refresh_jobs()
        self._poll()

    def refresh_jobs(self) -> bool:
        """Show this user's latest registrations; returns whether one is still queued or running."""
        found = self.run(self.jobs_status, jobs.list_jobs, self.ctx, self.principal, kind=jobs.REGISTER_MODEL,
                         limit=RECENT_JOBS)
        if found is None:
            return False
        self.jobs.update(found)
        watched = next((j for j in found if j.id == self.watching), None)
        if watched is not None:
            self._show_watched(watched)
        return any(j.active for j in found)

    def _show_watched(self, job: Job) -> None:
        """Report on the job this page submitted: progress while it runs, then its outcome."""
        if job.active:
            self.progress.update(job.progress, job.message)
            return
        self.watching = None
        self.progress.update(job.progress, job.message)
        self.progress.done()
        if job.state == FAILED:
            self.status.error(job.error)
            return
        result = job.result or {}
        verdict = "drift detected" if result.get("dataset_drift") else "no dataset drift"
        self.registered = str(result.get("model", job.title))
        self.status.success(f"{self.registered} is registered ({verdict}).")
        self.open_model.layout.display = "flex"

    def _poll(self) -> None:
        """Refresh the job list about once a second until no registration is queued or running."""
        if self._poller is not None and self._poller.is_alive():
            return

        def loop() -> None:
            while not self._stop_polling.wait(POLL_SECONDS):
                try:
                    if not self.refresh_jobs():
                        return
                except Exception:  # noqa: BLE001 - a closed page or a lost kernel: stop quietly
                    log.debug("job polling stopped", exc_info=True)
                    return

        self._poller = threading.Thread(target=loop, name="vision-register-jobs", daemon=True)
        self._poller.start()

    def _register_restricted(self, spec: registration.ModelSpec) -> None:
        """A restricted model has nothing to profile: registered at once, its upload token shown once."""
        self.progress.start()

        def done(reg: registration.Registration) -> None:
            self.registered = reg.model.name
            self.status.success(f"{reg.model.name} is registered and awaiting metrics.")
            steps = Note("Next: download the client notebook (already filled in with this server's address, "
                            "the model's name and its column roles), paste the upload token below into its "
                            "UPLOAD_TOKEN line, set your data paths, and run it where the data lives.")
            self.next_steps.children = (steps, ClientDownloads(self, reg.model.name, may_issue_token=False))
            self.token_box.show(reg.upload_token, reg.token_expires)
            self.next_steps.children += (self.token_box,)
            self.open_model.layout.display = "flex"

        self.run_in_background(self.status, registration.register_model, self.ctx, self.principal, spec,
                               progress=self.progress.update, bar=self.progress, on_done=done)

    def _on_open(self, _button=None) -> None:
        self.state.selected_model = self.registered
        self.state.page = "models"

    def close(self) -> None:
        self._stop_polling.set()
        super().close()


"""Register a model: metadata, connector, column roles, and open or restricted data.

Open data is registered by a background job: the form checks at once what it
can (name, roles, paths) and queues the job; the page then follows the job by
polling its record about once a second while one is queued or running. The
job does not need this tab: close it, and the page opened later (a new kernel)
lists the running registrations with their progress and the finished ones with
their result or the reason they failed.
"""
from __future__ import annotations

import logging
import threading

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.job_list import JobList
from vision_widgets.components.progress import ProgressBar
from vision_widgets.core.catalog.records import PLATFORMS, TASKS
from vision_widgets.core.identity import rbac
from vision_widgets.core.jobs.records import DONE, FAILED, Job
from vision_widgets.services import accounts
from vision_widgets.services import jobs
from vision_widgets.services import registration
from vision_widgets.views.base import PageView
from vision_widgets.views.model_actions import TokenBox, client_downloads

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


class RegisterView(PageView):
    title = "Register model"

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self.name = forms.text("e.g. Fraud detection v2")
        self.description = w.Textarea(placeholder="What the model does", layout=w.Layout(width="420px"))
        self.task = w.Dropdown(options=TASKS, value=TASKS[0], layout=w.Layout(width="260px"))
        self.platform = w.Dropdown(options=PLATFORMS, value=PLATFORMS[0], layout=w.Layout(width="260px"))
        sources = self.run(StatusMessage(), registration.data_sources, ctx, self.principal)
        self.connector = w.Dropdown(options=[(title, name) for name, title in (sources.connectors if sources else ())],
                                    layout=w.Layout(width="260px"))
        self.owner = w.Dropdown(options=(), layout=w.Layout(width="260px"))
        self.restricted = w.Checkbox(value=False, description="Restricted data (profiled on the client's machine)",
                                     indent=False)
        self.training = forms.text("Path of the training CSV/Parquet")
        self.production = forms.text("Path of the production CSV/Parquet")
        for box in (self.training, self.production):
            box.layout.width = "420px"
        self.target = forms.text("label column")
        self.prediction = forms.text("model output column")
        self.timestamp = forms.text("optional: date/time column")
        self.features = forms.text("optional: a, b, c (default: all other columns)")
        self.exclude = forms.text("optional: ids, free text, personal data")
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
        self.paths = w.VBox([forms.field("Training data", self.training), forms.field("Production data", self.production)])
        owner_row = forms.field("Owner", self.owner)
        if self.principal is not None and rbac.is_admin(self.principal):
            found = self.run(self.status, accounts.list_accounts, ctx, self.principal)
            names = tuple(a.username for a in found or ())
            self.owner.options = names
            self.owner.value = self.principal.username if self.principal.username in names else None
        else:
            owner_row.layout.display = "none"  # a user registers for themselves
        self.children = (
            forms.section(
                "Model",
                forms.field("Name", self.name),
                forms.field("Description", self.description),
                forms.field("Task", self.task),
                forms.field("Platform", self.platform),
                owner_row,
            ),
            forms.section(
                "Data",
                forms.field("Connector", self.connector),
                self.restricted,
                self.paths,
                w.Label(f"Files are read under: {', '.join(sources.roots) if sources else '–'}"),
            ),
            forms.section(
                "Column roles",
                forms.field("Target", self.target),
                forms.field("Prediction", self.prediction),
                forms.field("Timestamp", self.timestamp),
                forms.field("Features", self.features),
                forms.field("Excluded", self.exclude),
            ),
            self.submit,
            self.progress,
            self.status,
            self.next_steps,
            self.open_model,
            forms.section("Your registrations", self.jobs_status, self.jobs),
        )
        if self.refresh_jobs():
            self._poll()

    def _on_restricted(self, _change=None) -> None:
        self.paths.layout.display = "none" if self.restricted.value else "flex"

    def spec(self) -> registration.ModelSpec:
        return registration.ModelSpec(
            name=self.name.value, task=self.task.value, description=self.description.value,
            platform=self.platform.value, connector=self.connector.value or "local",
            target=self.target.value, prediction=self.prediction.value, timestamp=self.timestamp.value,
            features=_columns(self.features.value), exclude=_columns(self.exclude.value),
            owner=self.owner.value or "", restricted=self.restricted.value,
            training=self.training.value, production=self.production.value,
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
            self.next_steps.children = (
                w.Label("Next: run the client notebook where the data lives (set the server URL, this token, "
                        "the model name and your data paths in its first cell)."),
                client_downloads(),
            )
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


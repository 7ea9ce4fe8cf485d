"""A list of background jobs: what, when, how far, and how it ended — one row per job, all text.

Rows are kept per job and updated in place (a poll every second re-sends only
what changed); rows of jobs no longer listed are closed. Titles, messages,
results and failure reasons are shown through ``Label`` widgets, never as HTML.
"""
from __future__ import annotations

from typing import Callable, Sequence

import ipywidgets as w

from vision_widgets.components.formatting import when
from vision_widgets.core.jobs.records import DONE, FAILED, QUEUED, Job

_STATE_TEXT = {QUEUED: "queued", "running": "running", DONE: "done", FAILED: "failed"}


def _default_outcome(job: Job) -> str:
    return "finished" if job.state == DONE else job.error


class JobRow(w.HBox):
    """One job: its title, when it was submitted, its state, a progress bar and what is happening."""

    def __init__(self, job_id: int) -> None:
        self.job_id = job_id
        self.title = w.Label("", layout=w.Layout(width="220px"))
        self.submitted = w.Label("", layout=w.Layout(width="165px"))  # "2026-11-27 12:25 UTC" in full
        self.state = w.Label("", layout=w.Layout(width="70px"))
        self.bar = w.FloatProgress(min=0.0, max=1.0, value=0.0, layout=w.Layout(width="140px"))
        self.detail = w.Label("")
        super().__init__([self.title, self.submitted, self.state, self.bar, self.detail],
                         layout=w.Layout(align_items="center", grid_gap="8px"))
        self.add_class("vision-job")

    def show(self, job: Job, outcome: Callable[[Job], str]) -> None:
        self.title.value = job.title
        self.submitted.value = when(job.created_at, " UTC")
        self.state.value = _STATE_TEXT.get(job.state, job.state)
        self.bar.value = max(0.0, min(1.0, job.progress))
        self.bar.bar_style = {DONE: "success", FAILED: "danger"}.get(job.state, "info")
        if job.active:
            attempt = f" (attempt {job.attempts} of {job.max_attempts})" if job.attempts > 1 else ""
            self.detail.value = job.message + attempt
        else:
            self.detail.value = outcome(job)


class JobList(w.VBox):
    """The jobs given to ``update``, newest first; ``outcome(job)`` words a finished job's result."""

    def __init__(self, empty: str = "No jobs yet.", outcome: Callable[[Job], str] = _default_outcome) -> None:
        self.empty = w.Label(empty)
        self.outcome = outcome
        self._rows: dict[int, JobRow] = {}
        super().__init__([self.empty])

    def update(self, jobs: Sequence[Job]) -> None:
        rows: dict[int, JobRow] = {}
        for job in jobs:
            row = self._rows.get(job.id) or JobRow(job.id)
            row.show(job, self.outcome)
            rows[job.id] = row
        for job_id, row in self._rows.items():
            if job_id not in rows:
                row.close()
                for part in row.children:
                    part.close()
        self._rows = rows
        self.children = tuple(rows.values()) if rows else (self.empty,)

    def row(self, job_id: int) -> JobRow | None:
        """The row showing job ``job_id`` (tests, and pages that point at one)."""
        return self._rows.get(job_id)

"""The Drift page's settings panel (owners and admins): methods, thresholds, the dataset share, the window.

Built only for a principal who may change the model (``DriftSettingsView.can_edit``); the service
checks again on save. Saving stores the settings and queues the recompute of every stored report
(``services.drift_settings``); the panel follows that job about once a second, as the Register page
follows a registration, and reloads the page when it is done.
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.note import Note
from vision_widgets.components.progress import ProgressBar
from vision_widgets.core.errors import PermissionDenied
from vision_widgets.core.jobs.records import FAILED
from vision_widgets.services import drift_settings, jobs
from vision_widgets.services.drift_settings import DriftSettingsView

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
DEFAULT = "(default)"
TYPES = (("numeric", "Numeric features"), ("categorical", "Categorical features"), ("binary", "Binary features"))


def _number(text: str) -> Any:
    """A typed threshold: a float when it reads as one, else the text (the service says what is wrong)."""
    try:
        return float(text)
    except ValueError:
        return text


class DriftSettingsPanel(w.VBox):
    """Change a model's drift settings; ``on_recomputed()`` is called once the reports are recomputed."""

    def __init__(self, page, model: str, view: DriftSettingsView, on_recomputed: Callable[[], None]) -> None:
        self.page = page
        self.model = model
        self.view = view
        self.on_recomputed = on_recomputed
        s = view.settings
        self.share = w.BoundedFloatText(value=s.drift_share, min=0.01, max=1.0, step=0.05,
                                        layout=w.Layout(width="120px"))
        forms.label(self.share, "Dataset drift at share", width="170px")
        self.window = w.Dropdown(options=view.window_choices,
                                 value=s.window if s.window in view.window_choices else view.window_choices[0],
                                 layout=w.Layout(width="160px"))
        forms.label(self.window, "Production windows", width="170px")
        self.type_methods: dict[str, w.Dropdown] = {}
        for kind, title in TYPES:
            options = (DEFAULT, *view.methods_by_type.get(kind, ()))
            dd = w.Dropdown(options=options, value=s.type_methods.get(kind, DEFAULT), layout=w.Layout(width="200px"))
            self.type_methods[kind] = forms.label(dd, title, width="170px")
        self.thresholds: dict[str, w.Text] = {}
        for name, choice in view.methods.items():
            box = w.Text(value=_text(s.thresholds.get(name)), placeholder=f"{choice.default_threshold:g}",
                         tooltip=choice.domain.text, layout=w.Layout(width="120px"))
            self.thresholds[name] = forms.label(box, choice.label, width="200px")
        features = tuple(f.feature for f in view.features)
        self.feature = w.Dropdown(options=features, value=features[0] if features else None,
                                  layout=w.Layout(width="220px"))
        forms.label(self.feature, "Feature", width="70px")
        self.feature_method = w.Dropdown(options=(DEFAULT,), value=DEFAULT, layout=w.Layout(width="170px"))
        forms.label(self.feature_method, "method", width="60px")
        self.feature_threshold = w.Text(placeholder="default", layout=w.Layout(width="100px"))
        forms.label(self.feature_threshold, "threshold", width="70px")
        self.feature.observe(self._on_feature, "value")
        self._overrides = {"methods": dict(s.methods), "thresholds": {k: v for k, v in s.thresholds.items()
                                                                      if k in features}}
        self._on_feature()
        self.save = forms.button("Save and recompute", style="primary", icon="save")
        self.save.on_click(self._on_save)
        self.status = StatusMessage()
        self.progress = ProgressBar()
        self._poller: threading.Thread | None = None
        self._stop = threading.Event()
        #: the recompute job followed (a later save's job once this one is superseded)
        self.following: int | None = None
        super().__init__([
            Note("Saving stores these settings, writes an audit entry and recomputes every stored drift report "
                 "from the stored profiles in the background (no raw data needed). An empty threshold uses the "
                 "method's default; hover a box for what it accepts.", muted=True),
            self.share, self.window,
            w.Label("Method by type of feature"), *self.type_methods.values(),
            w.Label("Threshold by method"), *self.thresholds.values(),
            w.Label("One feature"),
            w.HBox([self.feature, self.feature_method, self.feature_threshold],
                   layout=w.Layout(flex_flow="row wrap", grid_gap="6px")),
            w.HBox([self.save]), self.progress, self.status,
        ])
        self.add_class("vision-drift-settings")

    # -- one feature's override ---------------------------------------------------------------
    def _on_feature(self, _change=None) -> None:
        name = self.feature.value
        setting = next((f for f in self.view.features if f.feature == name), None)
        if setting is None:
            return
        options = (DEFAULT, *self.view.methods_by_type.get(setting.type, ()))
        with self.feature_method.hold_sync():
            self.feature_method.options = options
            self.feature_method.value = self._overrides["methods"].get(name, DEFAULT)
        self.feature_threshold.value = _text(self._overrides["thresholds"].get(name))

    def _remember_feature(self) -> None:
        name = self.feature.value
        if not name:
            return
        for key, value in (("methods", self.feature_method.value), ("thresholds", self.feature_threshold.value)):
            if value in (DEFAULT, ""):
                self._overrides[key].pop(name, None)
            else:
                self._overrides[key][name] = _number(value) if key == "thresholds" else value

    def changes(self) -> dict[str, Any]:
        """The settings as the panel shows them, in ``save_settings``' terms."""
        self._remember_feature()
        thresholds = {name: _number(box.value.strip()) for name, box in self.thresholds.items() if box.value.strip()}
        thresholds.update(self._overrides["thresholds"])
        return {
            "drift_share": float(self.share.value),
            "window": self.window.value,
            "type_methods": {k: dd.value for k, dd in self.type_methods.items() if dd.value != DEFAULT},
            "methods": dict(self._overrides["methods"]),
            "thresholds": thresholds,
        }

    # -- saving and following the recompute ------------------------------------------------------
    def _on_save(self, _button=None) -> None:
        job = self.page.run(self.status, drift_settings.save_settings, self.page.ctx, self.page.principal,
                            self.model, self.changes())
        if job is None:
            return
        self.status.show("Saved. Recomputing every stored report with the new settings …")
        self.progress.start("Queued")
        self.follow(job.id)

    def follow(self, job_id: int) -> None:
        """Show the recompute job's progress until it ends, then reload the page.

        A job a later save superseded hands over to that save's job (``check`` sets ``following``).
        """
        self.following = job_id
        if self._poller is not None and self._poller.is_alive():
            return

        def loop() -> None:
            while not self._stop.wait(POLL_SECONDS):
                try:
                    if self.check(self.following):
                        return
                except Exception:  # noqa: BLE001 - a closed page or a lost kernel: stop quietly
                    log.debug("following the recompute stopped", exc_info=True)
                    return

        self._poller = threading.Thread(target=loop, name="vision-drift-recompute", daemon=True)
        self._poller.start()

    def check(self, job_id: int) -> bool:
        """Look at the job once; returns True when it has ended (and the page was told)."""
        job = self.page.run(self.status, jobs.get_job, self.page.ctx, self.page.principal, job_id)
        if job is None:
            return True
        if job.active:
            self.progress.update(job.progress, job.message or "Recomputing")
            return False
        self.progress.done()
        if job.state == FAILED:
            self.status.error(job.error)
            return True
        result = job.result or {}
        if result.get("superseded"):
            later = self._later_job(job_id)
            if later is None:  # another person's job, which this account may not follow
                self.status.show("Another save changed the settings meanwhile; its recompute follows — "
                                 "reopen the page once it has ended to see its reports.")
                return True
            # the later save's job writes the reports: follow it, and reload the page when it ends
            self.following = later.id
            self.status.show("Another save changed the settings meanwhile; following its recompute …")
            self.progress.start("Queued")
            return False
        self.on_recomputed()
        self.status.success(f"Saved; {result.get('reports', 0)} stored reports recomputed with the new settings.")
        return True

    def _later_job(self, job_id: int) -> Any:
        """The newest recompute job of this model queued after ``job_id`` that this account may follow."""
        ctx, me = self.page.ctx, self.page.principal
        try:
            found = jobs.list_jobs(ctx, me, kind=jobs.RECOMPUTE_DRIFT, everyone=True, limit=50)
        except PermissionDenied:  # not an admin: their own jobs only
            found = jobs.list_jobs(ctx, me, kind=jobs.RECOMPUTE_DRIFT, limit=50)
        later = [j for j in found if j.id > job_id and j.params.get("model") == self.model]
        return max(later, key=lambda j: j.id) if later else None

    def close(self) -> None:
        self._stop.set()
        super().close()


def _text(value: float | None) -> str:
    return "" if value is None else f"{value:g}"

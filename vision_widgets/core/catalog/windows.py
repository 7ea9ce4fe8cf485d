"""A model's production windows, and how labels that arrive later find their window.

Production data usually arrives before its labels. A batch is stored as it comes
(its drift computed then, once); when the labels arrive, the same window is
profiled again *with* the target and sent under the same batch label: that
profile is stored as kind ``labels`` (``records.LABELS``) and supplies the
realised performance of the windows it shares with the batch, while their drift
stays what the first profile gave. Labels find their window by the batch label
and the window's label (a time window's start, e.g. ``2026-09-03T00:00:00``; an
unwindowed batch is one window labelled with the batch's label), and only under a
label the sender gave (``services.profiling.store_batch``). See docs/decisions.md, "Labels that arrive later".

A window is identified by ``(profile_id, window)`` — the stored production profile it
comes from and its time window's label inside it (None: the whole batch) — never by a
label alone: two batches may share a label (every unlabelled client submission is
"client submission"), and a ``14D`` window's label is also its first week's.
``model_windows`` gives a model's windows as the drift settings' ``window`` groups them,
which is how the stored drift reports (and so the Drift page) have them.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Protocol, Sequence

from vision_widgets.client import ModelStats, Profile, Roles
from vision_widgets.core.catalog.records import StoredDrift, StoredProfile
from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.stats.drift import regroup_windows

__all__ = ["ProductionWindow", "production_windows", "window_key", "has_labels", "labels_by_window",
           "is_late_labels", "model_only", "model_windows", "WindowKey", "ReportWindow", "report_windows"]

#: A production window's identity: (stored production profile id, time window label or None for the batch).
WindowKey = tuple[int, "str | None"]


@dataclass(frozen=True)
class ProductionWindow:
    """One production window: its label, the batch it came in, and its profile."""

    label: str
    batch: str
    profile: Profile
    #: the stored production profile it comes from (0: not stored)
    profile_id: int = 0
    #: its time window's label inside the batch (None: the batch is the window)
    window: str | None = None

    @property
    def key(self) -> tuple[int, str | None]:
        """What identifies the window (labels alone do not; see the module docstring)."""
        return (self.profile_id, self.window)


def window_key(label: str) -> str:
    """How a window is matched across profiles: its label, whitespace-trimmed."""
    return label.strip()


def has_labels(profile: Profile) -> bool:
    """Whether a profile (or window) carries labels: a target column with at least one value."""
    m = profile.model
    return m is not None and m.target is not None and m.target.count > 0


def production_windows(batches: Sequence[tuple[str, Profile]]) -> list[ProductionWindow]:
    """The windows of stored production batches ``(batch label, profile)`` in the order given.

    A batch profiled with a timestamp contributes its time windows (labelled as the profile
    labels them); any other batch is one window labelled with the batch's label.
    """
    out = []
    for batch, prof in batches:
        out.extend(_split(batch, prof, 0))
    return out


def _split(batch: str, prof: Profile, profile_id: int) -> list[ProductionWindow]:
    if prof.windows:
        return [ProductionWindow(label, batch, w, profile_id, label) for label, w in prof.windows.items()]
    return [ProductionWindow(batch, batch, prof, profile_id, None)]


def _regrouped(prof: Profile, window: str) -> Profile:
    try:
        return regroup_windows(prof, window)
    except InvalidInput:  # windows that are not time windows: drift() keeps them as profiled too
        return prof


def model_windows(stored: Sequence[StoredProfile], window: str) -> list[ProductionWindow]:
    """A model's stored production batches as windows grouped by the drift settings' ``window``.

    The same windows as the stored drift reports (``drift()`` regroups the same way), each with
    its ``key`` ``(profile_id, window)``; batches in the order given (the catalog's: as they
    arrived). Only the model blocks are read (``model_only``): what performance needs.
    """
    out: list[ProductionWindow] = []
    for s in stored:
        out.extend(_split(s.label, _regrouped(model_only(s.body), window), s.id))
    return out


def model_only(body: str) -> Profile:
    """A stored profile with only its model block read (rows, roles, windows; no columns).

    What performance needs — class balance, confusion counts, score histograms — is in the
    model block; the columns are most of a profile's JSON and of the time to read it (a
    100-feature, 180-window batch: 1.3 s whole, 0.2 s this way). Only for profiles the
    catalog stored, which were read whole and checked when they arrived.
    """
    d = json.loads(body)
    k = int(d["k"])
    roles = Roles.from_dict(d["roles"])

    def one(part: Mapping[str, Any], where: str) -> Profile:
        model = ModelStats.from_dict(part["model"], f"{where}.model") if part.get("model") is not None else None
        return Profile(rows=int(part["rows"]), k=k, roles=roles, columns={}, model=model, pooled=True)

    out = one(d, "profile")
    out.window = d.get("window")
    out.windows = {w["window"]: one(w, f"profile.windows[{i}]") for i, w in enumerate(d.get("windows") or [])}
    return out


def labels_by_window(stored: Sequence[StoredProfile], window: str = "profiled") -> dict[tuple[str, str], Profile]:
    """Labels sent after their production window: (batch label, window label) -> the latest labelled profile.

    Grouped by the drift settings' ``window`` as the production batches are (``model_windows``);
    a labels profile names its batch by the label it was sent under.
    """
    out: dict[tuple[str, str], Profile] = {}
    for s in stored:  # in arrival order: a later correction replaces an earlier one
        for w in _split(s.label, _regrouped(model_only(s.body), window), s.id):
            if has_labels(w.profile):
                out[(s.label.strip(), window_key(w.label))] = w.profile
    return out


def is_late_labels(production: Profile, label: str, stored: Sequence[StoredProfile]) -> bool:
    """Whether ``production`` (sent under batch ``label``) is the labels of a batch stored without them.

    True when it carries the target, ``label`` is not empty, and a stored production batch
    with the same label has windows of the same labels that lack the target. Anything
    else is a new production batch, as before.
    """
    label = label.strip()
    if not label or not has_labels(production):
        return False
    mine = {window_key(w.label) for w in production_windows([(label, production)])}
    for s in stored:
        if s.label.strip() != label:
            continue
        theirs = production_windows([(label, model_only(s.body))])
        if any(window_key(w.label) in mine and not has_labels(w.profile) for w in theirs):
            return True
    return False


class _Batch(Protocol):
    id: int
    label: str
    rows: int
    created_at: datetime


@dataclass(frozen=True)
class ReportWindow:
    """One production window as the stored drift reports give it (the Drift page and the export)."""

    profile_id: int  # the stored production batch
    window: str | None  # its time window's label (None: the batch is the window)
    batch: str  # the batch's label (not unique: see the module docstring)
    arrived: datetime  # when the batch arrived
    computed_at: datetime  # when its report was computed
    rows: int
    #: the window's part of the stored report (the whole report for an unwindowed batch)
    result: Mapping[str, Any]
    #: the share of drifted features the report's verdict used
    threshold_share: float

    @property
    def key(self) -> tuple[int, str | None]:
        return (self.profile_id, self.window)


def report_windows(history: Sequence[StoredDrift], batches: Sequence[_Batch]) -> list[ReportWindow]:
    """A model's production windows from its stored drift reports: THE list of windows.

    Each batch's latest report (a recompute after a settings change adds one), batches in the
    order they arrived (``created_at``, then id), a report's windows in its order; a report
    without windows is its batch's one window. Identified by ``key`` ``(profile_id, window)``:
    labels repeat (two batches may share one). Reports of batches not in ``batches`` are left out.
    """
    by_id = {b.id: b for b in batches}
    latest = {h.profile_id: h for h in history if h.profile_id in by_id}
    out: list[ReportWindow] = []
    for pid in sorted(latest, key=lambda i: (by_id[i].created_at, i)):
        h, batch = latest[pid], by_id[pid]
        body = json.loads(h.body)
        rule = float(body.get("threshold_share", 0.5))
        if body.get("windows"):
            out.extend(ReportWindow(pid, str(wd["window"]), batch.label, batch.created_at, h.created_at,
                                    int(wd.get("rows", 0)), wd, rule) for wd in body["windows"])
        else:
            out.append(ReportWindow(pid, None, batch.label, batch.created_at, h.created_at, int(batch.rows),
                                    {**body, "drift_share": body.get("drift_share", h.drift_share),
                                     "dataset_drift": body.get("dataset_drift", h.dataset_drift)}, rule))
    return out

"""A model's production windows, and how labels that arrive later find their window.

Production data usually arrives before its labels. A batch is stored as it comes
(its drift computed then, once); when the labels arrive, the same window is
profiled again *with* the target and sent under the same batch label: that
profile is stored as kind ``labels`` (``records.LABELS``) and supplies the
realised performance of the windows it shares with the batch, while their drift
stays what the first profile gave. Windows are matched by their label (a time
window's start, e.g. ``2026-09-03T00:00:00``; an unwindowed batch is one window
labelled with the batch's label). See docs/decisions.md, "Labels that arrive later".
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from vision_widgets.client import Profile
from vision_widgets.core.catalog.records import StoredProfile

__all__ = ["ProductionWindow", "production_windows", "window_key", "has_labels", "labels_by_window",
           "is_late_labels"]


@dataclass(frozen=True)
class ProductionWindow:
    """One production window: its label, the batch it came in, and its profile."""

    label: str
    batch: str
    profile: Profile


def window_key(label: str) -> str:
    """How a window is matched across profiles: its label, whitespace-trimmed."""
    return label.strip()


def has_labels(profile: Profile) -> bool:
    """Whether a profile (or window) carries the target (label statistics)."""
    return profile.model is not None and profile.model.target is not None


def production_windows(batches: Sequence[tuple[str, Profile]]) -> list[ProductionWindow]:
    """The windows of stored production batches ``(batch label, profile)`` in the order given.

    A batch profiled with a timestamp contributes its time windows (labelled as the profile
    labels them); any other batch is one window labelled with the batch's label.
    """
    out = []
    for batch, prof in batches:
        if prof.windows:
            out.extend(ProductionWindow(label, batch, w) for label, w in prof.windows.items())
        else:
            out.append(ProductionWindow(batch, batch, prof))
    return out


def labels_by_window(stored: Sequence[StoredProfile]) -> dict[str, Profile]:
    """Labels sent after their production window: window key -> the latest labelled profile of it."""
    out: dict[str, Profile] = {}
    for s in stored:  # in arrival order: a later correction replaces an earlier one
        for w in production_windows([(s.label, Profile.from_json(s.body))]):
            if has_labels(w.profile):
                out[window_key(w.label)] = w.profile
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
        theirs = production_windows([(label, Profile.from_json(s.body))])
        if any(window_key(w.label) in mine and not has_labels(w.profile) for w in theirs):
            return True
    return False

"""Target and prediction drift: label shift and prediction shift, told apart from feature drift.

A feature drifting says the inputs changed; the target's class balance moving (label shift) or
the model's scores moving (prediction shift) are different stories, with different owners. They
are tested with the same registered methods as features (``drift.choose_method``: Z-test for a
binary target, chi-square or Jensen–Shannon for classes, KS or Wasserstein for scores), from the
profiles' ``model`` statistics, with the model's per-method thresholds; a data-driven band does
not apply (the reference's chunks are not kept for these columns).
"""
from __future__ import annotations

from dataclasses import dataclass, replace

from vision_widgets.client import BINARY, CATEGORICAL, CategoryStats, NumericStats, Profile
from vision_widgets.core.stats.drift import DriftSettings, FeatureDrift, FIXED, _feature

__all__ = ["Shift", "label_and_prediction_shift"]


@dataclass(frozen=True)
class Shift:
    """One of the two model columns: which, its name, and its test (or why there is none)."""

    role: str  # "target" | "prediction"
    column: str
    result: FeatureDrift | None
    reason: str = ""  # why there is no result


def _column(profile: Profile | None, role: str) -> NumericStats | CategoryStats | None:
    model = profile.model if profile is not None else None
    return getattr(model, role, None) if model is not None else None


def _as_binary(ref, cur):
    """Two classes in all (a 0/1 label): a binary column, so the Z-test for proportions applies."""
    if isinstance(ref, CategoryStats) and isinstance(cur, CategoryStats) and ref.kind == CATEGORICAL \
            and not ref.other and not cur.other and len(set(ref.counts) | set(cur.counts)) <= 2:
        return replace(ref, kind=BINARY), replace(cur, kind=BINARY)
    return ref, cur


def label_and_prediction_shift(reference: Profile, current: Profile | None, settings: DriftSettings,
                               target: str = "", prediction: str = "") -> tuple[Shift, ...]:
    """Target drift and prediction drift of ``current`` against ``reference``.

    Each comes back as a ``Shift``; one whose column is not profiled on either side says why
    (a production window without labels is the usual case: they arrive later).
    """
    settings = DriftSettings.from_dict({**settings.to_dict(), "threshold_mode": FIXED, "features": None})
    out = []
    for role, column, absent in (
            ("target", target, "No labels in this window yet: label shift needs the target, which usually "
                               "arrives later (send it as a new profile of the same window)."),
            ("prediction", prediction, "No prediction column in this window.")):
        if not column:
            continue
        ref, cur = _column(reference, role), _column(current, role)
        if ref is None:
            out.append(Shift(role, column, None, f"The training profile has no {role} column."))
        elif cur is None or (cur.count + cur.missing) == 0:
            out.append(Shift(role, column, None, absent))
        elif type(ref) is not type(cur) or ref.kind != cur.kind:
            out.append(Shift(role, column, None, f"The {role} is {ref.kind} in training but {cur.kind} here."))
        else:
            ref, cur = _as_binary(ref, cur)
            out.append(Shift(role, column, _feature(column, ref, cur, settings)))
    return tuple(out)

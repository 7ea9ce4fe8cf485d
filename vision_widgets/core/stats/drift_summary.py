"""A drift report said in words and ordered for reading; shared by the page, the export and the CLI.

The wording lives here, under ``core``, so services (the HTML/JSON export) and the
widgets (``components.formatting`` re-exports it) say the verdict the same way without
services importing a UI module: "2 of 6 features drifted; dataset drift needs 50%".
"""
from __future__ import annotations

import math
from typing import TYPE_CHECKING, Iterable, Sequence

if TYPE_CHECKING:  # only for types: the wording stays light (components.formatting imports it at login)
    from vision_widgets.core.stats.drift import FeatureDrift

__all__ = ["share_text", "drift_rule", "drift_verdict", "dataset_verdict", "past_threshold", "sorted_features"]


def share_text(x: float | None, digits: int = 1) -> str:
    """A share as a percentage: ``33.3%`` (``–`` when unknown)."""
    return "–" if x is None else f"{x:.{digits}%}"


def drift_rule(threshold_share: float) -> str:
    """``dataset drift needs 50%``: the rule behind the verdict."""
    return f"dataset drift needs {share_text(threshold_share, 0)}"


def drift_verdict(drifted: int, total: int, threshold_share: float) -> str:
    """``2 of 6 features drifted; dataset drift needs 50%``."""
    noun = "feature" if total == 1 else "features"
    return f"{drifted} of {total} {noun} drifted; {drift_rule(threshold_share)}"


def dataset_verdict(dataset_drift: bool, features: Sequence[FeatureDrift], threshold_share: float) -> str:
    """``Dataset drift: 3 of 6 features drifted; dataset drift needs 50%`` (or ``No dataset drift: …``)."""
    head = "Dataset drift" if dataset_drift else "No dataset drift"
    return f"{head}: {drift_verdict(sum(f.drifted for f in features), len(features), threshold_share)}"


def past_threshold(f: FeatureDrift) -> float:
    """How far past its threshold a feature is, in decades: positive beyond it, negative short of it.

    For a p-value method ``log10(threshold / p)``; for a distance ``log10(statistic / threshold)``;
    comparable across methods, so a table can sort by it.
    """
    tiny = 1e-300
    if f.p_value is not None:
        return math.log10(max(f.threshold, tiny) / max(f.p_value, tiny))
    return math.log10(max(abs(f.statistic), tiny) / max(f.threshold, tiny))


def sorted_features(features: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    """Drifted first, then by how far past the threshold (furthest first), then by name."""
    return sorted(features, key=lambda f: (not f.drifted, -past_threshold(f), f.feature))

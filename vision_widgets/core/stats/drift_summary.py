"""A drift report said in words and ordered for reading; shared by the page, the export and the CLI.

The wording lives here, under ``core``, so services (the HTML/JSON export) and the
widgets (``components.formatting`` re-exports it) say the verdict the same way without
services importing a UI module: "2 of 6 features drifted; dataset drift needs 50%".
"""
from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

if TYPE_CHECKING:  # only for types: the wording stays light (components.formatting imports it at login)
    from vision_widgets.core.stats.drift import FeatureDrift

__all__ = ["share_text", "drift_rule", "drift_verdict", "dataset_verdict", "past_threshold", "sorted_features",
           "drift_score", "stored_score", "BAND_NOTE"]


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


#: how ``drift._feature`` starts a note when a data-driven band (not a fixed threshold) decided
BAND_NOTE = "data-driven band from"
_BAND = re.compile(r"data-driven band from \d+ reference chunks: (?:\[([^,\]]+), ([^\]]+)\]|alert above (\S+))")


def drift_score(uses_p_value: bool, statistic: float, p_value: float | None, threshold: float, *,
                band: bool = False, lower: float | None = None) -> float:
    """How far a result stands toward its threshold, on one scale for every rule: 1 = at the threshold.

    Fixed threshold: ``statistic / threshold`` for a distance, ``log(p) / log(threshold)`` for a
    p-value (p = threshold gives 1, p = threshold² gives 2, p = 1 gives 0). Data-driven band
    (``threshold_mode="reference_chunks"``; ``threshold`` is then the band's upper bound, on the
    statistic's scale, even for a p-value method): ``statistic / upper``; with a ``lower`` bound (a
    signed statistic, the Z-test) the distance from the band's centre over its half-width, so
    either edge is 1. A score above 1 is past the rule (a Jensen–Shannon result within sampling
    noise can be, and still not be drifted).
    """
    tiny = 1e-300
    if band:
        if lower is not None and threshold > lower:
            centre, half = (threshold + lower) / 2, (threshold - lower) / 2
            return abs(float(statistic) - centre) / half
        return max(float(statistic), 0.0) / threshold if threshold > 0 else 0.0
    if uses_p_value:
        if p_value is None or not 0 < threshold < 1:
            return 0.0
        return math.log(min(max(float(p_value), tiny), 1.0)) / math.log(threshold)
    return max(float(statistic), 0.0) / threshold if threshold > 0 else 0.0


def stored_score(d: Mapping[str, Any]) -> float:
    """The score of a stored feature result (``FeatureDrift.to_dict``).

    Reports stored before the score was kept have none: it is worked out from what they hold —
    a p-value means a p-value method, and the band (with its lower bound) is read from the note
    ``drift._feature`` wrote when one decided.
    """
    if d.get("score") is not None:
        return float(d["score"])
    stat, p, threshold = float(d.get("statistic") or 0.0), d.get("p_value"), float(d.get("threshold") or 0.0)
    m = _BAND.search(str(d.get("note") or ""))
    if m:
        lower = float(m.group(1)) if m.group(1) is not None else None
        return drift_score(p is not None, stat, p, threshold, band=True, lower=lower)
    return drift_score(p is not None, stat, None if p is None else float(p), threshold)


def past_threshold(f: FeatureDrift) -> float:
    """How far past its threshold a feature is: its drift score (1 = at the threshold; see ``drift_score``).

    The page and the export both sort on it, so they list features in the same order.
    """
    return f.score if f.score is not None else stored_score(f.to_dict())


def sorted_features(features: Iterable[FeatureDrift]) -> list[FeatureDrift]:
    """Drifted first, then by how far past the threshold (furthest first), then by name."""
    return sorted(features, key=lambda f: (not f.drifted, -past_threshold(f), f.feature))

"""Model performance from a profile's label statistics (no raw rows needed).

Accuracy, precision, recall and F1 come from the confusion counts (for a
score prediction the client thresholds at 0.5); ROC AUC from the per-class
score histograms; for regression MAE and RMSE from the mergeable residual sums.
"""
from __future__ import annotations

import math
from typing import Any

from vision_widgets.client import CLASSIFICATION, OTHER, Profile


def _safe(num: float, den: float) -> float | None:
    return None if den == 0 else num / den


def performance(profile: Profile | None) -> dict[str, Any]:
    """The metrics a profile supports, as ``{"metric": value}``; empty when labels are missing."""
    model = profile.model if profile is not None else None
    if model is None or model.target is None:
        return {}
    if model.task != CLASSIFICATION:
        e = model.errors
        n = e.get("n", 0.0)
        if not n:
            return {}
        return {"mae": e.get("sum_abs", 0.0) / n, "rmse": math.sqrt(e.get("sum_sq", 0.0) / n), "rows": int(n)}
    # ROC AUC comes from the per-class score histograms, which stay published when the privacy
    # guard withholds the confusion matrix (a cell below k): report it whatever happens to the matrix.
    auc = profile.roc_auc()
    conf = model.confusion
    total = sum(conf.values())
    if not total:
        return {} if auc is None else {"roc_auc": auc}
    labels = sorted({t for t, _ in conf} | {p for _, p in conf})
    correct = sum(c for (t, p), c in conf.items() if t == p and t != OTHER)
    out: dict[str, Any] = {"accuracy": correct / total, "rows": total}
    positive = model.positive_class
    if positive is not None and len([lab for lab in labels if lab != OTHER]) <= 2:
        tp = conf.get((positive, positive), 0)
        fp = sum(c for (t, p), c in conf.items() if p == positive and t != positive)
        fn = sum(c for (t, p), c in conf.items() if t == positive and p != positive)
        precision, recall = _safe(tp, tp + fp), _safe(tp, tp + fn)
    else:  # macro average over the classes (pooled "other" left out)
        per = []
        for lab in (lab for lab in labels if lab != OTHER):
            tp = conf.get((lab, lab), 0)
            fp = sum(c for (t, p), c in conf.items() if p == lab and t != lab)
            fn = sum(c for (t, p), c in conf.items() if t == lab and p != lab)
            per.append((_safe(tp, tp + fp), _safe(tp, tp + fn)))
        ps = [p for p, _ in per if p is not None]
        rs = [r for _, r in per if r is not None]
        precision = sum(ps) / len(ps) if ps else None
        recall = sum(rs) / len(rs) if rs else None
    out["precision"] = precision
    out["recall"] = recall
    out["f1"] = (2 * precision * recall / (precision + recall)) if precision and recall else None
    out["roc_auc"] = auc
    return out

"""How numbers and times read on every page: one function per kind of number.

- **shares** (of rows, of features, class balance, missing values): percentages, ``33.3%``;
- **metrics** (accuracy, precision, recall, F1, ROC AUC): decimals with three places, ``0.912``.
  They are scores between 0 and 1, not shares of something; scikit-learn, MLflow, Evidently and
  NannyML print them so, and one form for all of them lets a reader compare F1 with accuracy at
  a glance (see docs/decisions.md, "Numbers");
- **errors and statistics** (MAE, RMSE, a test's statistic, a mean): three significant digits;
- **counts**: thousands separated, ``12,345``; **money**: ``$1,234.50``; **times**: UTC, minutes.

The drift verdict is said in words, with the rule behind it: "2 of 6 features drifted; dataset
drift needs 50%".
"""
from __future__ import annotations

from datetime import datetime

from vision_widgets.core.stats.drift_summary import drift_rule, drift_verdict  # noqa: F401 - one wording (core)

MISSING = "–"


def when(value: datetime | None, suffix: str = "") -> str:
    """``2026-11-27 14:05`` (UTC) or ``never``."""
    return f"{value:%Y-%m-%d %H:%M}{suffix}" if value else "never"


def clock(value: datetime | None) -> str:
    """``14:05 UTC`` (a time later today, e.g. when a lock ends) or ``–``."""
    return f"{value:%H:%M} UTC" if value else MISSING


def number(x: float | None, pattern: str = "{:.3g}") -> str:
    """A statistic, a mean or an error (MAE, RMSE): three significant digits."""
    return MISSING if x is None else pattern.format(x)


def share(x: float | None, digits: int = 1) -> str:
    """A share of rows or features as a percentage: ``33.3%``."""
    return MISSING if x is None else f"{x:.{digits}%}"


#: older name, kept for the pages that call it
percent = share


def metric(x: float | None) -> str:
    """A score between 0 and 1 (accuracy, precision, recall, F1, ROC AUC): ``0.912``."""
    return MISSING if x is None else f"{x:.3f}"


def count(n: int | None, noun: str = "") -> str:
    """``12,345`` or ``12,345 rows`` (``1 row``)."""
    if n is None:
        return MISSING
    text = f"{n:,}"
    if noun:
        text += f" {noun}" if n == 1 else f" {noun}s"
    return text


def money(x: float | None, currency: str = "$") -> str:
    """``$1,234.50`` (``-$12.00`` for a loss)."""
    if x is None:
        return MISSING
    sign = "-" if x < 0 else ""
    return f"{sign}{currency}{abs(x):,.2f}"


def duration(seconds: float | None) -> str:
    """``850 ms``, ``12.3 s``, ``4 min 05 s``, ``2 h 03 min``."""
    if seconds is None:
        return MISSING
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def drift_summary(dataset_drift: bool | None, drift_share: float | None, threshold_share: float) -> str:
    """The model list's cell: ``Drift: 67% drifted, needs 50%`` — the card's verdict and rule
    (``drift_verdict``) in words short enough for a table column.

    The list knows the share of drifted features, not their count.
    """
    if dataset_drift is None or drift_share is None:
        return "no drift report yet"
    verdict = "Drift" if dataset_drift else "No drift"
    return f"{verdict}: {share(drift_share, 0)} drifted, needs {share(threshold_share, 0)}"

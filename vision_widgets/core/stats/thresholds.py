"""Where each drift method's threshold may lie, so a setting outside it is refused with a reason.

A p-value method drifts when p < threshold, so its threshold is a significance level
strictly between 0 and 1. A distance drifts when the statistic reaches the threshold, so
the threshold must be a value the distance can take: the normed Wasserstein distance and
PSI are positive and unbounded; the Jensen–Shannon distance (natural logarithm, as scipy)
lies in [0, sqrt(ln 2)] ≈ [0, 0.833]. A method registered later without a domain here gets
"any positive number".
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from vision_widgets.core.errors import InvalidInput
from vision_widgets.core.stats.drift_methods import get_method

__all__ = ["Domain", "domain_of", "check_threshold"]


@dataclass(frozen=True)
class Domain:
    """An interval ``low < x < high`` (``high_closed``: ``x <= high``), described in words."""

    low: float
    high: float
    high_closed: bool
    text: str

    def contains(self, x: float) -> bool:
        if not math.isfinite(x) or x <= self.low:
            return False
        return x <= self.high if self.high_closed else x < self.high

    def to_dict(self) -> dict[str, object]:
        return {"low": self.low, "high": None if math.isinf(self.high) else self.high,
                "high_closed": self.high_closed, "text": self.text}


_P_VALUE = Domain(0.0, 1.0, False, "a significance level between 0 and 1, exclusive (e.g. 0.05)")
_POSITIVE = Domain(0.0, math.inf, False, "a positive number")
_JS_MAX = math.sqrt(math.log(2.0))
_DISTANCES = {
    "wasserstein": Domain(0.0, math.inf, False, "a positive distance in reference standard deviations (e.g. 0.1)"),
    "psi": Domain(0.0, math.inf, False, "a positive PSI (0.1 is the usual 'some change', 0.25 'a large change')"),
    "jensenshannon": Domain(0.0, _JS_MAX, True, f"a distance above 0 and at most {_JS_MAX:.3f} (sqrt(ln 2))"),
}


def domain_of(method: str) -> Domain:
    """The threshold domain of the registered method ``method`` (``InvalidInput`` if unknown)."""
    m = get_method(method)
    if m.uses_p_value:
        return _P_VALUE
    return _DISTANCES.get(m.name, _POSITIVE)


def check_threshold(method: str, value: object, field: str) -> float:
    """``value`` as a float if it lies in ``method``'s domain; else ``InvalidInput`` naming ``field``."""
    label = get_method(method).label
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInput(f"{field}: {value!r} is not a number; the threshold of {label} is "
                           f"{domain_of(method).text}.", field=field) from None
    domain = domain_of(method)
    if isinstance(value, bool) or not domain.contains(x):
        raise InvalidInput(f"{field}: {x:g} is outside what {label} allows; its threshold is {domain.text}.",
                           field=field)
    return x

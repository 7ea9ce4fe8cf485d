"""The compact context a question about a model is asked with: that model's stored aggregates only.

``build(m360, overview, perf, budget)`` takes what the services already computed with the asking
principal's permissions — ``services.model360.Model360``, ``services.drift_page.DriftOverview``,
``services.estimation.PerformanceSeries`` (read by attribute; core imports no service) — and returns
the prompt text *and* the ``Fact``s in it. The text is rendered from the facts, so the "numbers
used" the page lists are exactly what the LLM was given, and the deterministic summary
(``summary.py``) is written from the same facts.

Never raw rows: only the profile's aggregates (means, shares, test statistics, metrics,
coefficients) go in — no category value, no histogram bin, no example.

**The token budget.** Facts come in sections ranked by how much they help answer "why did drift
fire, what should I look at, will performance drop": the model and the latest verdict first, then
the drifted features (most drifted first), performance, drift over recent windows, the surrogate's
strongest terms, and last the features that did not drift (closest to their threshold first). The
text is cut to the budget by dropping facts from the least important section's tail first; a line
says how many were left out, so the model knows the list is not complete. A model with 100 features
fits any budget above the first two sections.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vision_widgets.core.llm.client import estimate_tokens
from vision_widgets.core.llm.events import Fact

#: Recent windows whose verdict is listed.
RECENT_WINDOWS = 8
#: Features listed per section at most (a budget of a few thousand tokens holds fewer anyway).
FEATURES_LISTED = 40
#: The surrogate's terms listed (largest |coefficient| first).
SURROGATE_TERMS = 6

MODEL = "Model"
LATEST = "Latest drift report"
DRIFTED = "Drifted features in the latest window (most drifted first)"
PERFORMANCE = "Performance"
RECENT = "Drift over recent windows"
SURROGATE = "Surrogate model (interpretable linear fit on the training data)"
STABLE = "Features that did not drift in the latest window (closest to their threshold first)"
#: Sections, most important first: the budget drops from the end.
SECTIONS = (MODEL, LATEST, DRIFTED, PERFORMANCE, RECENT, SURROGATE, STABLE)


@dataclass(frozen=True)
class ModelContext:
    """The prompt text, the facts in it (in order), its estimated size, and what was left out."""

    text: str
    facts: tuple[Fact, ...]
    tokens: int
    omitted: int = 0
    #: the facts by section (the summary reads them)
    sections: tuple[tuple[str, tuple[Fact, ...]], ...] = ()


def num(x: float | None) -> str:
    """A number as the context shows it: 4 significant digits, "–" when missing."""
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    return f"{x:.4g}"


def pct(x: float | None) -> str:
    return "–" if x is None else f"{x:.0%}"


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
def _model(m360: Any, overview: Any) -> list[Fact]:
    m = m360.model
    roles = m.roles or {}
    out = [Fact("Model", m.name), Fact("Task", m.task), Fact("Status", m.status),
           Fact("Restricted (profiled on the client's machine)", "yes" if m.restricted else "no")]
    if roles.get("target"):
        out.append(Fact("Target column", str(roles["target"])))
    if roles.get("prediction"):
        out.append(Fact("Prediction column", str(roles["prediction"])))
    ref = m360.reference
    if ref is not None:
        out.append(Fact("Features", num(len(ref.columns))))
        out.append(Fact("Training rows", num(int(ref.rows))))
    out.append(Fact("Production windows", num(len(overview.windows))))
    if overview.empty_reason:
        out.append(Fact("Why there is no drift report", overview.empty_reason))
    return out


def _latest(overview: Any) -> list[Fact]:
    w = overview.latest
    if w is None:
        return []
    return [Fact("Latest window", w.label), Fact("Rows in the latest window", num(int(w.rows))),
            Fact("Share of features drifted (latest window)", pct(w.drift_share)),
            Fact("Dataset drift rule", f"drift when at least {pct(w.threshold_share)} of features drift"),
            Fact("Dataset drift verdict (latest window)", "drift" if w.dataset_drift else "no drift")]


def _feature_line(overview: Any, w: Any, f: Any) -> Fact:
    value = f"{f.method} statistic {num(f.statistic)}"
    if f.p_value is not None:
        value += f" (p-value {num(f.p_value)})"
    value += f", threshold {num(f.threshold)}, PSI {num(f.psi)}, {'drifted' if f.drifted else 'not drifted'}"
    dist = overview.distribution(w.index, f.feature) if f.type == "numeric" else None
    if dist is not None:
        stats = {s.name: s for s in dist.stats}
        if "Mean" in stats:
            value += f"; mean {stats['Mean'].training} in training vs {stats['Mean'].production} in the window"
    return Fact(f"{f.feature} ({f.type}, window {w.label})", value)


def _features(overview: Any, drifted: bool, limit: int) -> list[Fact]:
    w = overview.latest
    if w is None:
        return []
    rows = [f for f in w.sorted_features() if f.drifted == drifted]
    out = [_feature_line(overview, w, f) for f in rows[:limit]]
    if len(rows) > limit:
        out.append(Fact("Not listed to save space", f"{len(rows) - limit} more feature(s) of this section"))
    return out


def _performance(m360: Any, perf: Any) -> list[Fact]:
    out = []
    train = m360.training_performance or {}
    latest = m360.performance or {}
    for metric in ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse"):
        t, p = train.get(metric), latest.get(metric)
        if t is None and p is None:
            continue
        value = f"{num(t)} on training data, {num(p)} realised on the latest production batch"
        if t is not None and p is not None:
            value += f" (change {p - t:+.4g})"
        out.append(Fact(f"Realised {metric}", value))
    if perf is not None and perf.windows:
        label = perf.windows[-1]
        for metric in perf.metrics:
            est = (perf.estimated.get(metric) or (None,))[-1]
            if est is None:
                continue
            t = train.get(metric)
            value = f"{num(est)} estimated for window {label}"
            if t is not None:
                value += f" (change from training {est - t:+.4g})"
            band = perf.band.get(metric)
            if band:
                value += f"; expected band {num(band[0])}–{num(band[1])}"
            alert = (perf.alerts.get(metric) or (False,))[-1]
            value += "; outside the band (alert)" if alert else ""
            out.append(Fact(f"Estimated {metric} (no labels needed)", value))
    if perf is not None and perf.reason:
        out.append(Fact("Why performance is not estimated", perf.reason))
    if m360.performance_note:
        out.append(Fact("Note on performance", m360.performance_note))
    return out


def _recent(overview: Any) -> list[Fact]:
    out = []
    for w in reversed(overview.windows[-RECENT_WINDOWS:]):
        top = ", ".join(f.feature for f in w.sorted_features() if f.drifted)
        value = f"{pct(w.drift_share)} of features drifted, {'drift' if w.dataset_drift else 'no drift'}"
        if top:
            value += f" (drifted: {top})"
        out.append(Fact(f"Window {w.label}", value))
    return out


def _surrogate(m360: Any) -> list[Fact]:
    s = m360.surrogate
    if s is None or not s.terms:
        return []
    order = sorted(range(len(s.terms)), key=lambda i: -abs(s.coefficients[i]))[:SURROGATE_TERMS]
    return [Fact(f"Surrogate coefficient of {s.terms[i]}",
                 f"{num(s.coefficients[i])} (standard error {num(math.sqrt(s.variances[i]))})") for i in order]


# --------------------------------------------------------------------------------------------
# Assembly and the budget
# --------------------------------------------------------------------------------------------
PREAMBLE = ("You answer questions about one machine-learning model monitored by Vision AI, using only the "
            "numbers below (stored aggregates: no raw rows are available). Cite the numbers you use. If the "
            "numbers do not answer the question, say so and suggest which tool or page would. Answer in "
            "Markdown, briefly.")


def _render(sections: list[tuple[str, list[Fact]]]) -> str:
    parts = [PREAMBLE]
    for title, facts in sections:
        if facts:
            parts.append(f"\n## {title}\n" + "\n".join(f"- {f.label}: {f.value}" for f in facts))
    return "\n".join(parts)


def fit(sections: list[tuple[str, list[Fact]]], budget: int) -> ModelContext:
    """Keep the facts that fit ``budget`` tokens, dropping from the least important section's end first.

    A section that lost facts ends with a line saying how many, so the model knows the list is cut.
    The model's own section is never cut.
    """
    kept = [(title, list(facts)) for title, facts in sections]
    dropped = [0] * len(kept)

    def rendered() -> list[tuple[str, list[Fact]]]:
        return [(title, facts + ([Fact("Not listed to save space", f"{dropped[i]} more item(s) of this section")]
                                 if dropped[i] and facts else []))
                for i, (title, facts) in enumerate(kept)]

    i = len(kept) - 1
    while i > 0 and estimate_tokens(_render(rendered())) > budget:
        if kept[i][1]:
            kept[i][1].pop()
            dropped[i] += 1
        else:
            i -= 1
    final = rendered()
    text = _render(final)
    return ModelContext(text, tuple(f for _, facts in final for f in facts), estimate_tokens(text), sum(dropped),
                        tuple((title, tuple(facts)) for title, facts in final))


def build(m360: Any, overview: Any, perf: Any, budget: int) -> ModelContext:
    """The context of one model, within ``budget`` tokens (see the module docstring)."""
    n = FEATURES_LISTED
    sections = [
        (MODEL, _model(m360, overview)),
        (LATEST, _latest(overview)),
        (DRIFTED, _features(overview, True, n)),
        (PERFORMANCE, _performance(m360, perf)),
        (RECENT, _recent(overview)),
        (SURROGATE, _surrogate(m360)),
        (STABLE, _features(overview, False, n)),
    ]
    return fit(sections, budget)

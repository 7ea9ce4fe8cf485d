"""The compact context a question about a model is asked with: that model's stored aggregates only.

``build(overview, perf, budget)`` takes what the services already computed with the asking
principal's permissions — ``services.drift_page.DriftOverview`` (the model, its training profile, the
stored reports) and ``services.estimation.PerformanceSeries`` (realised and estimated performance per
window), read by attribute (core imports no service) — and returns
the prompt text *and* the ``Fact``s in it. The text is rendered from the facts, so the "numbers
used" the page lists are exactly what the LLM was given, and the deterministic summary
(``summary.py``) is written from the same facts.

Never raw rows: only the profile's aggregates (means, shares, test statistics, metrics,
coefficients) go in — no histogram bin, no example. The one category value that can appear is in a
surrogate term's name (``segment=retail``): a value seen in at least k rows, as the profile keeps it.

**The token budget.** Facts come in sections ranked by how much they help answer "why did drift
fire, what should I look at, will performance drop": the model and the latest verdict first, then
the drifted features (most drifted first), performance, drift over recent windows, the surrogate's
strongest terms, and last the features that did not drift (closest to their threshold first). The
text is cut to the budget by dropping facts from the least important section's tail first; a section
that does not list all it stands for ends with a line saying how many of how many are listed (the
section's true total, not just what the budget dropped), so the model knows the list is not complete.
That line is never cut. A model with 100 features fits any budget above the first two sections.

Shares are given with their counts ("3 of 10 features (30%)", one decimal when needed), as the Drift
page gives them: a share rounded to whole percent could contradict the verdict next to it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from vision_widgets.core.llm.client import estimate_tokens
from vision_widgets.core.llm.events import Fact
from vision_widgets.core.stats.performance import performance

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
#: The label of a section's last line when it does not list everything it stands for.
OMITTED = "Not listed to save space"
#: What a section's items are, in its count line.
_UNITS = {DRIFTED: "features", STABLE: "features", RECENT: "windows", SURROGATE: "terms"}


@dataclass(frozen=True)
class ModelContext:
    """The prompt text, the facts in it (in order), its estimated size, and what was left out."""

    text: str
    facts: tuple[Fact, ...]
    tokens: int
    omitted: int = 0
    #: the facts by section (the summary reads them)
    sections: tuple[tuple[str, tuple[Fact, ...]], ...] = ()
    #: per section: (title, items listed, items the section stands for)
    counts: tuple[tuple[str, int, int], ...] = ()


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
    """A share as a percentage, with one decimal unless it is whole: 30%, 29.6%."""
    if x is None:
        return "–"
    text = f"{x * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def _drifted_of(features: Any, share: float | None) -> tuple[str, dict]:
    """"k of n features (s%)" for a window's feature results, and the same as data."""
    rows = tuple(features)
    k, n = sum(1 for f in rows if f.drifted), len(rows)
    return f"{k} of {n} features ({pct(share)})", {"drifted": k, "features": n, "share": share}


# --------------------------------------------------------------------------------------------
# Sections
# --------------------------------------------------------------------------------------------
def _model(overview: Any) -> list[Fact]:
    m = overview.model
    roles = m.roles or {}
    out = [Fact("Model", m.name), Fact("Task", m.task), Fact("Status", m.status),
           Fact("Restricted (profiled on the client's machine)", "yes" if m.restricted else "no")]
    if roles.get("target"):
        out.append(Fact("Target column", str(roles["target"])))
    if roles.get("prediction"):
        out.append(Fact("Prediction column", str(roles["prediction"])))
    ref = overview.reference
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
    drifted, data = _drifted_of(w.sorted_features(), w.drift_share)
    return [Fact("Latest window", w.label), Fact("Rows in the latest window", num(int(w.rows))),
            Fact("Features drifted (latest window)", drifted, data),
            Fact("Dataset drift rule", f"drift when at least {pct(w.threshold_share)} of features drift"),
            Fact("Dataset drift verdict (latest window)", "drift" if w.dataset_drift else "no drift",
                 {"dataset_drift": bool(w.dataset_drift)})]


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


def _features(overview: Any, drifted: bool, limit: int) -> tuple[list[Fact], int]:
    """The section's first ``limit`` features, and how many features it stands for."""
    w = overview.latest
    if w is None:
        return [], 0
    rows = [f for f in w.sorted_features() if f.drifted == drifted]
    return [_feature_line(overview, w, f) for f in rows[:limit]], len(rows)


def _performance(overview: Any, perf: Any) -> list[Fact]:
    """Training metrics against the latest window's realised (labels) and estimated (CBPE) ones."""
    out = []
    train = performance(overview.reference) if overview.reference is not None else {}
    label = None
    if perf is not None and perf.windows:
        # named as the Drift page names the window (perf's labels are the windows' full timestamps)
        names = {(w.profile_id, w.window): w.label for w in overview.windows}
        label = names.get(perf.keys[-1] if perf.keys else None, perf.windows[-1])
    metrics = list(perf.metrics) if perf is not None else []
    metrics += [m for m in ("accuracy", "precision", "recall", "f1", "roc_auc", "mae", "rmse")
                if m in train and m not in metrics]
    for metric in metrics:
        t = train.get(metric)
        real = (perf.realised.get(metric) or (None,))[-1] if label is not None else None
        est = (perf.estimated.get(metric) or (None,))[-1] if label is not None else None
        if t is not None or real is not None:
            value = f"{num(t)} on training data, {num(real)} realised in window {label}" if label else \
                f"{num(t)} on training data"
            if t is not None and real is not None:
                value += f" (change {real - t:+.4g})"
            out.append(Fact(f"Realised {metric}", value))
        if est is not None:
            value = f"{num(est)} estimated for window {label}"
            if t is not None:
                value += f" (change from training {est - t:+.4g})"
            band = perf.band.get(metric)
            if band:
                value += f"; expected band {num(band[0])}–{num(band[1])}"
            value += "; outside the band (alert)" if (perf.alerts.get(metric) or (False,))[-1] else ""
            out.append(Fact(f"Estimated {metric} (without labels, CBPE)", value))
    if perf is not None and perf.reason:
        out.append(Fact("Why performance is not estimated", perf.reason))
    return out


def _recent(overview: Any) -> list[Fact]:
    out = []
    for w in reversed(overview.windows[-RECENT_WINDOWS:]):
        features = w.sorted_features()
        top = ", ".join(f.feature for f in features if f.drifted)
        drifted, data = _drifted_of(features, w.drift_share)
        value = f"{drifted} drifted, {'dataset drift' if w.dataset_drift else 'no dataset drift'}"
        if top:
            value += f" (drifted: {top})"
        out.append(Fact(f"Window {w.label}", value, {**data, "dataset_drift": bool(w.dataset_drift)}))
    return out


def _surrogate(overview: Any) -> list[Fact]:
    s = overview.reference.surrogate if overview.reference is not None else None
    if s is None:
        return []
    # as Model 360 shows it: the intercept and terms whose variance collapsed carry no information
    keep = [i for i, t in enumerate(s.terms) if t != "(intercept)" and s.variances[i] > 0]
    order = sorted(keep, key=lambda i: -abs(s.coefficients[i]))[:SURROGATE_TERMS]
    return [Fact(f"Surrogate coefficient of {s.terms[i]}",
                 f"{num(float(s.coefficients[i]))} (standard error {num(math.sqrt(s.variances[i]))})") for i in order]


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


def _count_line(title: str, listed: int, total: int) -> Fact:
    unit = _UNITS.get(title, "items")
    return Fact(OMITTED, f"{listed} of the {total} {unit} of this section listed; {total - listed} more not listed",
                {"listed": listed, "total": total})


def fit(sections: list[tuple], budget: int) -> ModelContext:
    """Keep the facts that fit ``budget`` tokens, dropping from the least important section's end first.

    ``sections`` holds ``(title, facts)`` or ``(title, facts, total)``: ``total`` is how many items the
    section stands for when ``facts`` lists only some (a model's 100 stable features, 40 listed). A
    section listing fewer than its total ends with a line "k of N … listed", from the true total; that
    line is never cut. The model's own section is never cut.
    """
    kept = [(s[0], list(s[1])) for s in sections]
    totals = [max(int(s[2]) if len(s) > 2 else 0, len(s[1])) for s in sections]

    def rendered() -> list[tuple[str, list[Fact]]]:
        return [(title, facts + ([_count_line(title, len(facts), totals[i])] if len(facts) < totals[i] else []))
                for i, (title, facts) in enumerate(kept)]

    i = len(kept) - 1
    while i > 0 and estimate_tokens(_render(rendered())) > budget:
        if kept[i][1]:
            kept[i][1].pop()
        else:
            i -= 1
    final = rendered()
    text = _render(final)
    return ModelContext(text, tuple(f for _, facts in final for f in facts), estimate_tokens(text),
                        sum(totals[i] - len(facts) for i, (_, facts) in enumerate(kept)),
                        tuple((title, tuple(facts)) for title, facts in final),
                        tuple((title, len(facts), totals[i]) for i, (title, facts) in enumerate(kept)))


def build(overview: Any, perf: Any, budget: int, listed: int = FEATURES_LISTED) -> ModelContext:
    """The context of one model, within ``budget`` tokens (see the module docstring); at most ``listed``
    features per section."""
    n = listed
    sections = [
        (MODEL, _model(overview)),
        (LATEST, _latest(overview)),
        (DRIFTED, *_features(overview, True, n)),
        (PERFORMANCE, _performance(overview, perf)),
        (RECENT, _recent(overview)),
        (SURROGATE, _surrogate(overview)),
        (STABLE, *_features(overview, False, n)),
    ]
    return fit(sections, budget)

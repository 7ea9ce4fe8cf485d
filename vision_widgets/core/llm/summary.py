"""The answer written without the LLM: a deterministic Markdown summary of the same facts.

Given when no endpoint is configured, or it failed, or it was too slow. It answers what stored numbers
can answer — the verdict, which features drifted most and by how much, how performance changed — and
is labelled so nobody mistakes it for the LLM's reasoning. Every line comes from a ``Fact`` the page
lists under "numbers used"; nothing is invented.
"""
from __future__ import annotations

from vision_widgets.core.llm.context import (
    DRIFTED, LATEST, MODEL, OMITTED, PERFORMANCE, RECENT, SURROGATE, ModelContext,
)
from vision_widgets.core.llm.events import Fact

LABEL = "Summary written without the LLM from the stored numbers"
#: Drifted features named in the summary.
TOP = 5


def _section(ctx: ModelContext, title: str) -> tuple[Fact, ...]:
    return next((facts for t, facts in ctx.sections if t == title), ())


def _total(ctx: ModelContext, title: str) -> int:
    """How many items section ``title`` stands for (listed or not)."""
    return next((total for t, _, total in ctx.counts if t == title), 0)


def _value(facts: tuple[Fact, ...], label: str) -> str | None:
    return next((f.value for f in facts if f.label == label), None)


def model_summary(ctx: ModelContext) -> str:
    """The fallback answer for a question about a model (Markdown)."""
    model = _section(ctx, MODEL)
    name = _value(model, "Model") or "this model"
    lines = [f"**{LABEL}.**", ""]
    latest = _section(ctx, LATEST)
    why = _value(model, "Why there is no drift report")
    if why:
        lines.append(why)
    elif latest:
        verdict = _value(latest, "Dataset drift verdict (latest window)")
        lines.append(f"In the latest window ({_value(latest, 'Latest window')}) of {name}, "
                     f"{_value(latest, 'Features drifted (latest window)')} drifted: "
                     f"the verdict is **{verdict}** ({_value(latest, 'Dataset drift rule')}).")
    drifted = [f for f in _section(ctx, DRIFTED) if f.label != OMITTED]
    if drifted:
        shown = drifted[:TOP]
        lines += ["", "Features that drifted most (look at these first):"]
        lines += [f"- **{f.label.split(' (')[0]}**: {f.value}" for f in shown]
        more = max(_total(ctx, DRIFTED), len(drifted)) - len(shown)
        if more > 0:
            lines.append(f"- … and {more} more drifted feature(s).")
    elif latest:
        lines += ["", "No feature drifted in the latest window."]
    perf = [f for f in _section(ctx, PERFORMANCE)]
    if perf:
        lines += ["", "Performance:"]
        lines += [f"- {f.label}: {f.value}" for f in perf]
    recent = [f for f in _section(ctx, RECENT) if f.data and "dataset_drift" in f.data]
    if len(recent) > 1:
        fired = sum(1 for f in recent if f.data["dataset_drift"])
        lines += ["", f"Dataset drift fired in {fired} of the last {len(recent)} windows."]
    terms = _section(ctx, SURROGATE)
    if terms:
        strongest = ", ".join(f.label.replace("Surrogate coefficient of ", "") for f in terms[:3])
        lines += ["", f"The surrogate model leans most on: {strongest}."]
    lines += ["", "_An LLM could relate these numbers to your question; every number above is listed under "
                  "“numbers used”._"]
    return "\n".join(lines)


def faq_fallback(entries: list[tuple[str, str]]) -> str:
    """The closest FAQ entries, shown when the question matched none closely and no LLM answered."""
    if not entries:
        return "No entry of the Vision AI FAQ is close to this question."
    lines = ["These entries of the Vision AI FAQ are the closest to your question:", ""]
    for q, a in entries:
        lines += [f"**{q}**", "", a, ""]
    return "\n".join(lines).rstrip()

"""The read-only tools the LLM may call while answering (chat-completions ``tools`` protocol).

Each tool reads one model's drift overview through ``load(model_name)``, which the service binds to
the *asking* principal (``services.drift_page.drift_overview``): a call naming a model that person
may not open raises ``PermissionDenied`` there, and the refusal goes back to the LLM as the tool's
result (and into the log) — the tool never reads around the check. Tools answer aggregates only,
like the context.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from vision_widgets.core.errors import VisionError
from vision_widgets.core.llm.client import ToolCall, ToolResult, tool_error
from vision_widgets.core.llm.context import num, pct

DRIFT_REPORT = "drift_report"
FEATURE_HISTORY = "feature_history"
COMPARE_WINDOWS = "compare_windows"

_MODEL = {"type": "string", "description": "the model's name"}
_WINDOW = {"type": "string", "description": "a window label as listed in the context (e.g. 2024-05-06), or \"latest\""}

SCHEMAS: tuple[dict, ...] = (
    {"type": "function", "function": {
        "name": DRIFT_REPORT,
        "description": "The drift report of one production window of a model: verdict and every feature's test.",
        "parameters": {"type": "object", "properties": {"model": _MODEL, "window": _WINDOW},
                       "required": ["model", "window"]}}},
    {"type": "function", "function": {
        "name": FEATURE_HISTORY,
        "description": "One feature's drift across every production window of a model (score 1 = at threshold).",
        "parameters": {"type": "object", "properties": {"model": _MODEL,
                                                        "feature": {"type": "string", "description": "a feature name"}},
                       "required": ["model", "feature"]}}},
    {"type": "function", "function": {
        "name": COMPARE_WINDOWS,
        "description": "Compare two production windows of a model: verdicts and features whose drift changed.",
        "parameters": {"type": "object", "properties": {"model": _MODEL, "first": _WINDOW, "second": _WINDOW},
                       "required": ["model", "first", "second"]}}},
)

#: Features a tool result lists at most.
MAX_ROWS = 60


def _listing(windows: Any) -> str:
    labels = [w.label for w in windows]
    shown = ", ".join(labels[-10:]) or "none"
    return f"{shown} (and {len(labels) - 10} older)" if len(labels) > 10 else shown


def _window(overview: Any, label: str) -> Any:
    """The window ``label`` names: its exact label, its batch's name (a batch of one window), "latest",
    or a prefix only one window's label starts with. Anything else raises ``LookupError`` listing the
    windows there are — never a guess (an empty label once matched the oldest window)."""
    windows = tuple(overview.windows)
    wanted = label.strip()
    if not windows:
        raise LookupError(f"{overview.model.name} has no production window yet.")
    if not wanted:
        raise LookupError(f"Name a window: \"latest\" or one of {_listing(windows)}.")
    if wanted.lower() == "latest":
        return windows[-1]
    exact = [w for w in windows if w.label == wanted]
    if exact:
        return exact[0]
    for candidates in ([w for w in windows if w.batch == wanted],
                       [w for w in windows if w.label.startswith(wanted) or (w.window or "").startswith(wanted)]):
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            raise LookupError(f"{wanted!r} names {len(candidates)} windows: {_listing(candidates)}; name one.")
    raise LookupError(f"No window {wanted!r}; the windows are: {_listing(windows)}.")


def _feature_row(f: Any) -> dict:
    return {"feature": f.feature, "method": f.method, "statistic": num(f.statistic), "threshold": num(f.threshold),
            "psi": num(f.psi), "drifted": f.drifted}


def _drift_report(overview: Any, args: dict) -> tuple[dict, str]:
    w = _window(overview, str(args.get("window") or ""))
    rows = [_feature_row(f) for f in w.sorted_features()[:MAX_ROWS]]
    return ({"model": overview.model.name, "window": w.label, "rows": w.rows, "share_drifted": pct(w.drift_share),
             "dataset_drift": w.dataset_drift, "features": rows},
            f"drift report of {overview.model.name}, window {w.label}")


def _feature_history(overview: Any, args: dict) -> tuple[dict, str]:
    feature = str(args.get("feature", ""))
    if feature not in overview.features:
        raise LookupError(f"{overview.model.name} has no feature {feature!r}.")
    s = overview.series(feature)
    points = [{"window": w.label, "score": num(score), "drifted": flag}
              for w, score, flag in zip(overview.windows, s.scores, s.drifted)][-MAX_ROWS:]
    return ({"model": overview.model.name, "feature": feature, "windows": points},
            f"history of {feature} in {overview.model.name}")


def _compare(overview: Any, args: dict) -> tuple[dict, str]:
    a, b = _window(overview, str(args.get("first") or "")), _window(overview, str(args.get("second") or ""))
    fa, fb = {f.feature: f for f in a.features}, {f.feature: f for f in b.features}
    changed = [{"feature": n, a.label: _feature_row(fa[n]), b.label: _feature_row(fb[n])}
               for n in sorted(set(fa) & set(fb)) if fa[n].drifted != fb[n].drifted][:MAX_ROWS]
    return ({"model": overview.model.name,
             "windows": [{"window": w.label, "share_drifted": pct(w.drift_share), "dataset_drift": w.dataset_drift}
                         for w in (a, b)],
             "features_whose_verdict_changed": changed},
            f"{overview.model.name}: window {a.label} against {b.label}")


_TOOLS: dict[str, Callable[[Any, dict], tuple[dict, str]]] = {
    DRIFT_REPORT: _drift_report, FEATURE_HISTORY: _feature_history, COMPARE_WINDOWS: _compare,
}


def run(call: ToolCall, load: Callable[[str], Any]) -> ToolResult:
    """Run one tool call with ``load`` (the asking principal's ``drift_overview``); never raises.

    A refusal (``PermissionDenied``), an unknown model or window, or malformed arguments come back
    as an error result the LLM reads, with ``ok`` False.
    """
    tool = _TOOLS.get(call.name)
    if tool is None:
        return tool_error(f"There is no tool {call.name!r}; use one of {', '.join(_TOOLS)}.")
    try:
        args = json.loads(call.arguments or "{}")
        if not isinstance(args, dict):
            raise ValueError
    except ValueError:
        return tool_error(f"The arguments of {call.name} are not a JSON object.")
    try:
        overview = load(str(args.get("model", "")))
        result, summary = tool(overview, args)
    except VisionError as exc:  # PermissionDenied, NotFound: their messages are written for people
        return tool_error(f"Refused: {exc}")
    except LookupError as exc:
        return tool_error(str(exc.args[0]) if exc.args else "Not found.")
    return ToolResult(json.dumps(result), True, summary)

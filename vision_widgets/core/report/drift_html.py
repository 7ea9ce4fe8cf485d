"""The drift report as ONE self-contained HTML file, drawn from the report's data (its JSON).

Self-contained: the style is inline, the charts are inline SVG, there is no ``<script>``
and no ``src``/``href`` to anything but a ``#`` fragment, and a Content-Security-Policy
``<meta>`` forbids any request should a reader's browser be asked for one — so it opens
offline, in any browser, and mailing it leaks nothing to a third party. Every text that
comes from data (model, description, owner, features, methods, windows, notes) is escaped.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

from vision_widgets.core.report.svg import PALETTE, Line, esc, line_chart

__all__ = ["render"]

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;color:#101828;background:#f5f7fa;margin:0}
main{max-width:1040px;margin:0 auto;padding:24px}
h1{color:#12263f;font-size:24px;margin:0 0 4px}
h2{color:#12263f;font-size:18px;margin:28px 0 8px}
.muted{color:#5b6577}
.card{background:#fff;border:1px solid #dde3ea;border-radius:6px;padding:16px;margin:12px 0}
.verdict{font-size:18px;font-weight:600;padding:14px 16px;border-radius:6px;margin:16px 0}
.verdict.drift{background:#fdecea;color:#8c1d13;border:1px solid #f4c7c3}
.verdict.nodrift{background:#e8f5ee;color:#05603a;border:1px solid #b7e1c8}
table{border-collapse:collapse;width:100%;font-size:13px;background:#fff}
th,td{border-bottom:1px solid #dde3ea;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eef1f5;color:#12263f}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.drifted td{background:#fff7f6}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600}
.badge.drift{background:#fdecea;color:#8c1d13}
.badge.ok{background:#e8f5ee;color:#05603a}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:#5b6577}
dd{margin:0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(480px,1fr));gap:12px}
svg{max-width:100%;height:auto;background:#fff}
footer{margin-top:32px;font-size:12px;color:#5b6577}
"""


def _num(x: Any, digits: int = 3) -> str:
    if x is None:
        return "–"
    x = float(x)
    if not math.isfinite(x) or abs(x) >= 1e100:
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{digits - 1}e}"
    return f"{x:.{digits}g}"


def _window_text(label: str) -> str:
    """``2026-10-22`` for a window that starts at midnight, else the label as it is."""
    return label[:10] if label.endswith("T00:00:00") else label


def _settings_rows(s: Mapping[str, Any]) -> list[tuple[str, str]]:
    rows = [
        ("Dataset drift when", f"at least {float(s['drift_share']):.0%} of the features drifted"),
        ("Window", {"profiled": "as profiled", "batch": "one per production batch"}.get(s.get("window"), s.get("window", ""))),
        ("Thresholds", "each method's fixed threshold" if s.get("threshold_mode") == "fixed"
         else "a band from the reference's own chunks (mean ± 3 standard deviations)"),
    ]
    if s.get("type_methods"):
        rows.append(("Method per type", ", ".join(f"{k}: {v}" for k, v in sorted(s["type_methods"].items()))))
    if s.get("methods"):
        rows.append(("Method per feature", ", ".join(f"{k}: {v}" for k, v in sorted(s["methods"].items()))))
    if s.get("thresholds"):
        rows.append(("Threshold overrides", ", ".join(f"{k}: {v:g}" for k, v in sorted(s["thresholds"].items()))))
    if s.get("features"):
        rows.append(("Features tested", ", ".join(s["features"])))
    return rows


def _dl(rows: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in rows) + "</dl>"


def _feature_table(features: list[Mapping[str, Any]]) -> str:
    head = ("Feature", "Type", "Method", "Statistic", "p-value", "PSI", "Threshold", "Drift", "Note")
    out = ['<table aria-label="Drift per feature"><thead><tr>', *(f'<th scope="col">{h}</th>' for h in head),
           "</tr></thead><tbody>"]
    for f in features:
        badge = '<span class="badge drift">drifted</span>' if f["drifted"] else '<span class="badge ok">no drift</span>'
        out.append(
            f'<tr class="{"drifted" if f["drifted"] else ""}"><td>{esc(f["feature"])}</td><td>{esc(f["type"])}</td>'
            f'<td>{esc(f["method"])}</td><td class="num">{_num(f["statistic"])}</td>'
            f'<td class="num">{_num(f["p_value"])}</td><td class="num">{_num(f["psi"])}</td>'
            f'<td class="num">{_num(f["threshold"])}</td><td>{badge}</td><td>{esc(f.get("note") or "")}</td></tr>')
    out.append("</tbody></table>")
    return "".join(out)


def _share_chart(report: Mapping[str, Any]) -> str:
    timeline = report["timeline"]
    labels = [p["window"] for p in timeline]
    threshold = report["verdict"]["threshold_share"]
    line = Line("share of drifted features", [p["drift_share"] for p in timeline],
                [bool(p["dataset_drift"]) for p in timeline], PALETTE[0])
    return line_chart("Share of drifted features per window", labels, [line], threshold=threshold,
                      threshold_label=f"dataset threshold {threshold:.0%}", y_label="drifted features",
                      percent=True, width=980, height=260)


def _feature_chart(report: Mapping[str, Any], feature: str, colour: str) -> str:
    series = report["feature_series"].get(feature) or []
    labels = [p["window"] for p in report["timeline"]]
    points = [p for p in series if p is not None]
    method = points[-1]["method"] if points else ""
    if any(p.get("band") for p in points):
        # A data-driven band decided: its threshold is on the statistic's scale (never a p-value's),
        # and a signed statistic has a lower edge too; the drift score draws both as 1.
        line = Line(feature, [p["score"] if p is not None else None for p in series],
                    [bool(p and p["drifted"]) for p in series], colour)
        return line_chart(f"{feature}: {method} drift score per window", labels, [line], threshold=1.0,
                          threshold_label="edge of the reference band", y_label="drift score (1 = band edge)",
                          width=500, height=220)
    uses_p = bool(points) and points[-1]["p_value"] is not None
    values = [(p["p_value"] if uses_p else p["statistic"]) if p is not None else None for p in series]
    thresholds = {p["threshold"] for p in points}
    threshold = points[-1]["threshold"] if len(thresholds) == 1 else None
    what = f"p-value of {method} (drift below)" if uses_p else f"{method} (drift above)"
    line = Line(feature, values, [bool(p and p["drifted"]) for p in series], colour)
    return line_chart(f"{feature}: {method} per window", labels, [line], threshold=threshold,
                      threshold_label=f"threshold {_num(threshold)}" if threshold is not None else "",
                      y_label=what, log=uses_p, width=500, height=220)


def render(report: Mapping[str, Any]) -> str:
    """The HTML document of a drift report (``services.drift_report.report_data``)."""
    model, window, verdict = report["model"], report["window"], report["verdict"]
    shown = _window_text(window["label"])
    title = f"Drift report — {model['name']} — {shown}"
    drift = verdict["dataset_drift"]
    when_arrived = window["arrived_at"].replace("T", " ")[:16] + " UTC"
    made = report["generated_at"].replace("T", " ")[:16] + " UTC"
    about = [("Model", model["name"]), ("Task", model["task"]), ("Owner", model["owner"])]
    if model.get("line_of_business"):
        about.append(("Line of business", model["line_of_business"]))
    if model.get("description"):
        about.append(("Description", model["description"]))
    about += [("Window", shown + (" (the latest)" if window["latest"] else "")),
              ("Rows in the window", f"{window['rows']:,}"), ("Production batch", window["batch"] or "–"),
              ("Data arrived", when_arrived), ("Made", f"{made} by {report['generated_by']}")]
    top = report.get("top_features") or []
    charts = "".join(_feature_chart(report, f, PALETTE[i % len(PALETTE)]) for i, f in enumerate(top))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        # no request of any kind, should a reader's browser be asked for one
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{_STYLE}</style></head><body><main>",
        f"<h1>Drift report: {esc(model['name'])}</h1>",
        f'<p class="muted">Window {esc(shown)} · data arrived {esc(when_arrived)} · made {esc(made)}</p>',
        f'<p class="verdict {"drift" if drift else "nodrift"}" role="status">{esc(verdict["text"])}</p>',
        f'<section class="card" aria-label="About this report">{_dl(about)}</section>',
        "<h2>Drift per feature</h2>",
        '<p class="muted">Drifted features first, then by how far past their threshold.</p>',
        _feature_table(report["features"]),
        "<h2>Drift over time</h2>",
        f'<div class="card">{_share_chart(report)}</div>',
        f"<h2>Top {len(top)} features over time</h2>" if top else "",
        f'<div class="charts">{charts}</div>' if top else "",
        "<h2>Settings</h2>",
        f'<section class="card" aria-label="Drift settings">{_dl(_settings_rows(report["settings"]))}</section>',
        f"<footer>Vision AI drift report, schema version {int(report['schema_version'])}. Computed from aggregate "
        "profiles only (no raw rows). Self-contained: no script, no outside request.</footer>",
        "</main></body></html>",
    ]
    return "\n".join(p for p in parts if p)

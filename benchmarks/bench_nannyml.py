"""Our drift against NannyML's, alert by alert, on NannyML's own datasets (issue 8, defect 5).

Usage (from the repository root)::

    python3.11 -m venv /tmp/nml && /tmp/nml/bin/pip install "nannyml==0.13.*" "pandas<3" statsmodels
    .venv/bin/python benchmarks/bench_nannyml.py --nannyml-python /tmp/nml/bin/python          # ~1 min
    .venv/bin/python benchmarks/bench_nannyml.py --nannyml-python /tmp/nml/bin/python --write  # figures into docs

NannyML is never a dependency of Vision AI: ``nml_side.py`` runs in its interpreter, exports the raw
reference/analysis frames of its synthetic car price, multiclass and car loan datasets to
``benchmarks/out/nml/`` as Parquet and runs ``UnivariateDriftCalculator`` there (chunked as in its
tutorials; NannyML's default thresholds: mean + 3 std of the reference chunks, chi-square on p < 0.05).
Without ``--nannyml-python`` the last export is read again.

Our side profiles the same frames as the product does — the reference in row windows equal to
NannyML's chunks, the analysis against it with the same windows, both pooled through JSON
(``Profile.from_json(p.to_json())``, k = 10) — and runs ``drift`` with the method forced to NannyML's
(Kolmogorov–Smirnov, Wasserstein, Jensen–Shannon, chi-square) in ``fixed`` and ``reference_chunks``
mode. Alerts are compared chunk × column: both, NannyML only, ours only. Statistics are compared
on a common scale (our Wasserstein is divided by the reference std, NannyML's is not; our
Jensen–Shannon is in nats, NannyML's in bits): the median and largest relative difference.
The reference chunks themselves are compared too (profiled against the reference as a current).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from scipy.spatial.distance import jensenshannon

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "nml"
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from perf_doc import write_section  # noqa: E402

from vision_widgets.client import Profile, Roles, profile  # noqa: E402
from vision_widgets.core.stats.drift import FIXED, REFERENCE_CHUNKS, DriftSettings, drift, reference_band  # noqa: E402

NML_INSTALL = 'python3.11 -m venv /tmp/nml && /tmp/nml/bin/pip install "nannyml==0.13.*" "pandas<3" statsmodels'
#: NannyML's method key -> ours
METHODS = {"kolmogorov_smirnov": "ks", "wasserstein": "wasserstein", "jensen_shannon": "jensenshannon",
           "chi2": "chisquare"}
MODES = (FIXED, REFERENCE_CHUNKS)
HEADING = "## NannyML's datasets, alert by alert"


def export(python: str) -> dict:
    """Run NannyML's side in its own interpreter; it writes the frames and its results into ``OUT``."""
    env = dict(os.environ, NML_DISABLE_USAGE_LOGGING="1")
    done = subprocess.run([python, str(HERE / "nml_side.py"), str(OUT)], capture_output=True, text=True,
                          timeout=900, env=env)
    if done.returncode != 0:
        raise SystemExit(f"nml_side.py failed ({NML_INSTALL}?):\n{done.stderr[-3000:]}")
    return json.loads((OUT / "nml_meta.json").read_text(encoding="utf-8"))


def _chunk_of(label: str, size: int) -> int:
    """Our row-window label ('rows 6000-11999') -> NannyML's chunk index."""
    return int(label.split()[1].split("-")[0]) // size


def ours(name: str, meta: dict) -> pd.DataFrame:
    """One row per (period, chunk, column, method, mode): our statistic, threshold and verdict."""
    size = meta["chunk_size"]
    reference = pd.read_parquet(OUT / f"{name}_reference.parquet")
    analysis = pd.read_parquet(OUT / f"{name}_analysis.parquet")
    types = {c: "numeric" for c in meta["continuous"]} | {c: "categorical" for c in meta["categorical"]}
    roles = Roles(features=tuple(reference.columns), types=types)
    for c in meta["categorical"]:  # NannyML compares labels; so do we (bools and labels as text)
        reference[c], analysis[c] = reference[c].astype(str), analysis[c].astype(str)
    ref = Profile.from_json(profile(reference, roles=roles, window=size).to_json())
    periods = {"reference": Profile.from_json(profile(reference, reference=ref, window=size).to_json()),
               "analysis": Profile.from_json(profile(analysis, reference=ref, window=size).to_json())}
    rows = []
    for nml_method, method in METHODS.items():
        for mode in MODES:
            cols = meta["categorical"] if nml_method == "chi2" else \
                meta["continuous"] if nml_method in ("kolmogorov_smirnov", "wasserstein") else list(types)
            settings = DriftSettings(type_methods={"numeric": method, "categorical": method, "binary": method}
                                     if method in ("jensenshannon", "chisquare") else {"numeric": method},
                                     features=tuple(cols), threshold_mode=mode)
            for period, cur in periods.items():
                for w in drift(ref, cur, settings).windows:
                    for f in w.features:
                        rows.append({"dataset": name, "period": period, "chunk": _chunk_of(w.window, size),
                                     "column": f.feature, "method": nml_method, "mode": mode,
                                     "ours": f.statistic, "ours_scaled": _scaled(f.statistic, nml_method,
                                                                                 ref.columns[f.feature]),
                                     "threshold": f.threshold, "drifted": bool(f.drifted), "note": f.note})
    return pd.DataFrame(rows)


def _scaled(stat: float, nml_method: str, col) -> float:
    """Our statistic on NannyML's scale: Wasserstein in data units, Jensen–Shannon in bits."""
    if nml_method == "wasserstein":
        return stat * col.std
    if nml_method == "jensen_shannon":
        return stat / math.sqrt(math.log(2.0))
    return stat


def exact(name: str, size: int, column: str, kind: str, method: str, period: str, chunk: int) -> float:
    """The statistic on the raw rows (SciPy), where it has a definition free of binning choices."""
    ref = pd.read_parquet(OUT / f"{name}_reference.parquet", columns=[column])[column].dropna()
    frame = pd.read_parquet(OUT / f"{name}_{period}.parquet", columns=[column])[column]
    cur = frame.iloc[chunk * size:(chunk + 1) * size].dropna()
    if method == "kolmogorov_smirnov":
        return float(stats.ks_2samp(ref, cur).statistic)
    if method == "wasserstein":
        return float(stats.wasserstein_distance(ref, cur))
    if kind == "continuous":  # Jensen–Shannon of a continuous column is defined by its bins: none is "exact"
        return float("nan")
    table = pd.concat([ref.astype(str).value_counts(), cur.astype(str).value_counts()], axis=1).fillna(0).to_numpy()
    if method == "chi2":
        return float(stats.chi2_contingency(table.T, correction=False)[0])
    return float(jensenshannon(table[:, 0] / table[:, 0].sum(), table[:, 1] / table[:, 1].sum(), base=2))


def compare(meta: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Joined rows, the alert table (dataset × method × mode × period) and the statistic table."""
    frames = []
    for name, m in meta["datasets"].items():
        nml = pd.read_parquet(OUT / f"{name}_nml.parquet")
        j = ours(name, m).merge(nml, on=["dataset", "period", "chunk", "column", "method"], how="inner")
        j["kind"] = np.where(j["column"].isin(m["continuous"]), "continuous", "categorical")
        fixed = j["mode"] == FIXED
        j.loc[fixed, "exact"] = [exact(name, m["chunk_size"], r.column, r.kind, r.method, r.period, r.chunk)
                                 for r in j[fixed].itertuples()]
        frames.append(j)
    joined = pd.concat(frames, ignore_index=True)
    j = joined.assign(both=joined.drifted & joined.alert, nml_only=~joined.drifted & joined.alert,
                      ours_only=joined.drifted & ~joined.alert)
    alerts = (j.groupby(["dataset", "method", "mode", "period"], sort=False)
              .agg(cells=("alert", "size"), nml=("alert", "sum"), ours=("drifted", "sum"), both=("both", "sum"),
                   nml_only=("nml_only", "sum"), ours_only=("ours_only", "sum")).reset_index())
    s = joined[(joined["mode"] == FIXED) & np.isfinite(joined["value"])].copy()

    def rel(a: pd.Series, b: pd.Series) -> pd.Series:
        return (a - b).abs() / b.abs().where(b != 0, np.nan)

    s["rel"], s["ours_exact"], s["nml_exact"] = (rel(s["ours_scaled"], s["value"]), rel(s["ours_scaled"], s["exact"]),
                                                 rel(s["value"], s["exact"]))
    table = (s.groupby(["method", "kind", "dataset"], sort=False)
             .agg(cells=("rel", "size"), median_rel=("rel", "median"), max_rel=("rel", "max"),
                  ours_exact=("ours_exact", "max"), nml_exact=("nml_exact", "max")).reset_index())
    return joined, alerts, table


def table(alerts: pd.DataFrame, period: str = "analysis") -> str:
    a = alerts[alerts["period"] == period]
    lines = ["| dataset | method | mode | cells | NannyML alerts | ours | both | NannyML only | ours only |",
             "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in a.itertuples():
        lines.append(f"| {r.dataset} | {r.method} | {r.mode} | {r.cells} | {r.nml} | {r.ours} | {r.both} | "
                     f"{r.nml_only} | {r.ours_only} |")
    tot = a.groupby("mode")[["cells", "nml", "ours", "both", "nml_only", "ours_only"]].sum()
    for mode, r in tot.iterrows():
        lines.append(f"| **all** | | {mode} | {r.cells} | {r.nml} | {r.ours} | {r.both} | {r.nml_only} | {r.ours_only} |")
    return "\n".join(lines)


def stat_table(stats_: pd.DataFrame) -> str:
    lines = ["| method | column type | dataset | cells | ours vs NannyML: median | max | max vs SciPy on raw rows: ours "
             "| NannyML |", "|---|---|---|---:|---:|---:|---:|---:|"]

    def pct(v: float) -> str:
        return "–" if not np.isfinite(v) else f"{v:.2%}" if v < 0.001 else f"{v:.1%}"

    for r in stats_.itertuples():
        lines.append(f"| {r.method} | {r.kind} | {r.dataset} | {r.cells} | {pct(r.median_rel)} | {pct(r.max_rel)} | "
                     f"{pct(r.ours_exact)} | {pct(r.nml_exact)} |")
    return "\n".join(lines)


def disagreements(joined: pd.DataFrame, mode: str = REFERENCE_CHUNKS) -> str:
    d = joined[(joined["mode"] == mode) & (joined.drifted != joined.alert)]
    lines = ["| dataset | period | chunk | column | method | ours: statistic / band | NannyML: statistic / band | "
             "alert by |", "|---|---|---:|---|---|---|---|---|"]
    for r in d.itertuples():
        scale = r.ours_scaled / r.ours if r.ours else 1.0
        nml_band = "p < 0.05" if r.method == "chi2" else f"{r.upper:.4g}"
        lines.append(f"| {r.dataset} | {r.period} | {r.chunk} | {r.column} | {r.method} | "
                     f"{r.ours_scaled:.4g} / {r.threshold * scale:.4g} | {r.value:.4g} / {nml_band} | "
                     f"{'ours' if r.drifted else 'NannyML'} |")
    return "\n".join(lines)


def quiet_alerts(joined: pd.DataFrame) -> dict[str, int]:
    """Jensen–Shannon alerts (reference_chunks mode) in analysis cells where no other test on either side alerts."""
    a = joined[(joined["period"] == "analysis") & (joined["mode"] == REFERENCE_CHUNKS)]
    keys = ["dataset", "column", "chunk"]
    other = a[a["method"] != "jensen_shannon"].groupby(keys)[["alert", "drifted"]].any().any(axis=1).rename("other")
    js = a[a["method"] == "jensen_shannon"].join(other, on=keys)
    quiet = js[~js["other"].fillna(False).astype(bool)]
    return {"cells": len(quiet), "ours": int(quiet["drifted"].sum()), "nml": int(quiet["alert"].sum())}


def nested_offset(meta: dict, joined: pd.DataFrame) -> tuple[int, float, float]:
    """Where a chunk's Jensen–Shannon distance sits against the reference chunks' in quiet cells.

    Quiet: no other test on either side alerts on that analysis chunk and column. Returns the number
    of cells, the median of (statistic / mean of the chunk statistics) and of its z-score against them.
    """
    settings = DriftSettings(type_methods={"numeric": "jensenshannon"}, threshold_mode=REFERENCE_CHUNKS)
    a = joined[(joined["period"] == "analysis") & (joined["mode"] == REFERENCE_CHUNKS)]
    loud = set(a[(a["method"] != "jensen_shannon") & (a["alert"] | a["drifted"])]
               .apply(lambda r: (r["dataset"], r["chunk"], r["column"]), axis=1))
    ratio, z = [], []
    for name, m in meta["datasets"].items():
        size, cols = m["chunk_size"], m["continuous"]
        ref = Profile.from_json(profile(pd.read_parquet(OUT / f"{name}_reference.parquet", columns=cols),
                                        window=size).to_json())
        cur = Profile.from_json(profile(pd.read_parquet(OUT / f"{name}_analysis.parquet", columns=cols),
                                        reference=ref, window=size).to_json())
        for label, w in cur.windows.items():
            for col in cols:
                if (name, _chunk_of(label, size), col) in loud:
                    continue
                stat = drift(ref, cur, DriftSettings(type_methods={"numeric": "jensenshannon"}, features=(col,)))
                value = next(f.statistic for f in stat.windows[list(cur.windows).index(label)].features)
                band = reference_band(ref, col, settings, w.columns[col])
                chunks = np.asarray(band.chunk_statistics)
                ratio.append(value / chunks.mean())
                z.append((value - chunks.mean()) / chunks.std())
    return len(ratio), float(np.median(ratio)), float(np.median(z))


def _markdown(meta: dict, parts: dict[str, str], alerts: pd.DataFrame, joined: pd.DataFrame, seconds: float) -> str:
    a = alerts[alerts["period"] == "analysis"]
    tot = a.groupby("mode")[["cells", "nml", "ours", "both", "nml_only", "ours_only"]].sum()
    fx, rc = tot.loc[FIXED], tot.loc[REFERENCE_CHUNKS]
    missed = a[a["mode"] == FIXED].groupby("method")["nml_only"].sum()
    ref = alerts[alerts["period"] == "reference"].groupby("mode")[["cells", "nml", "ours", "both", "nml_only",
                                                                    "ours_only"]].sum()
    q = quiet_alerts(joined)
    nested = nested_offset(meta, joined)
    sets = "; ".join(f"{name.replace('_', ' ')}: {m['rows'][0]:,} + {m['rows'][1]:,} rows, chunks of {m['chunk_size']:,}, "
                     f"continuous {', '.join(m['continuous'])}; categorical {', '.join(m['categorical'])}"
                     for name, m in meta["datasets"].items())
    return "\n".join([
        HEADING, "",
        f"Written by `benchmarks/bench_nannyml.py` (NannyML {meta['nannyml']} in its own venv, {seconds:.0f} s). "
        f"Reproduce: `{NML_INSTALL}`, then `.venv/bin/python benchmarks/bench_nannyml.py --nannyml-python "
        "/tmp/nml/bin/python --write` (NannyML is never a project dependency; `--show` lists the fixed-mode "
        "misses cell by cell).", "",
        f"NannyML's shipped synthetic datasets ({sets}; NannyML's own split by dtype, bools as categories), "
        "chunked as in its tutorials. NannyML: `UnivariateDriftCalculator` fitted on the reference with its "
        "default thresholds — mean + 3 std (ddof 0) of the statistic between each reference chunk and the whole "
        "reference, upper bound only; chi-square always alerts on p < 0.05 (NannyML ignores thresholds for it). "
        "Ours: the same rows profiled as the product does — the reference in row windows equal to NannyML's "
        "chunks, the analysis (and the reference itself, for the reference rows) against it with the same "
        "windows, pooled through JSON at k = 10 — and `drift` with the method forced to NannyML's, in `fixed` "
        "and `reference_chunks` mode. A cell is one chunk × column × method.", "",
        "**Alerts on the analysis chunks.**", "", parts["analysis"], "",
        f"On the reference chunks (each compared with the reference it belongs to), {ref.loc[FIXED, 'cells']} cells "
        f"per mode: NannyML alerts {ref.loc[FIXED, 'nml']}; ours {ref.loc[FIXED, 'ours']} in fixed mode and "
        f"{ref.loc[REFERENCE_CHUNKS, 'ours']} with the band (NannyML's one is a chi-square p < 0.05, below).", "",
        f"**Fixed thresholds** never alerted where NannyML did not ({fx.ours_only} cells) and missed "
        f"{fx.nml_only} of its {fx.nml} alerts (Kolmogorov–Smirnov {missed.get('kolmogorov_smirnov', 0)}, "
        f"Wasserstein {missed.get('wasserstein', 0)}, Jensen–Shannon {missed.get('jensen_shannon', 0)}, chi-square "
        f"{missed.get('chi2', 0)}): the bands learnt from 5,000–6,000-row chunks sit at 0.02–0.035 (Wasserstein in "
        "reference σ, Jensen–Shannon in nats), far below the fixed 0.1, while KS (p < 0.05) and chi-square (p < 0.05, as "
        "NannyML) already scale with the sample. **With `reference_chunks`** the verdicts agree on "
        f"{rc.both} of NannyML's {rc.nml} alerts; {rc.nml_only} are NannyML's only and {rc.ours_only} ours only, "
        "all listed here:", "", parts["disagreements"], "",
        "Why they differ (neither is a defect of the band; both are definitions):", "",
        "- *Jensen–Shannon on continuous columns*: the statistic is defined by its bins. NannyML bins the "
        "reference by Doane's rule (18–25 equal-width bins here); ours uses the profile's ≤ 100 reference-quantile "
        "bins, as the privacy guard published them. Each side's band is consistent with its own statistic (ours "
        "equals SciPy on the raw rows binned on the published edges, `tests/test_reference_band.py`), but near "
        "the band the two definitions fall on different sides. Ours alerts more where nothing else does: in the "
        f"{q['cells']} analysis cells where no other test on either side alerts, our band flagged {q['ours']} and "
        f"NannyML's {q['nml']}. The reason is NannyML's own construction, which we follow: each chunk is part of "
        "the reference it is compared with, so its distance is smaller than a production chunk's (variance "
        "×0.9 instead of ×1.1 with 10 chunks, a mean about 10 % lower); with 100 bins the distance's spread "
        "across chunks is narrower (≈ 7 % of its mean against ≈ 15 % with 24 bins), so that offset is a larger "
        f"share of 3σ. Measured: in the {nested[0]} quiet continuous cells our distance is a median "
        f"{100 * (nested[1] - 1):.0f} % above the mean of the reference chunks', {nested[2]:.1f} of their std (a chunk "
        "independent of the reference would sit near 0). Comparing each chunk with the reference *without* it "
        "would remove this, but would no longer be NannyML's band; we keep NannyML's. Prefer KS or Wasserstein "
        "with the band for continuous columns.",
        "- *Chi-square*: NannyML alerts on p < 0.05 in every mode and applies Yates' continuity correction to "
        "two-category columns; ours, in `reference_chunks` mode, applies the band to the statistic like every "
        "other method (in `fixed` mode both use p < 0.05 and agree on every cell).", "",
        "**The statistics** (fixed mode, every cell of both periods; ours on NannyML's scale: Wasserstein × the "
        "reference std, Jensen–Shannon in bits), relative differences, and each side against SciPy on the raw "
        "rows where the statistic has a binning-free definition:", "", parts["statistics"], "",
        "Ours is computed from pooled aggregates (a design choice, see the privacy guard): KS is the largest CDF gap "
        "at ≤ 100 edges, so it can only be smaller than the raw one, by up to 16 % where the bins hold ~60 rows and "
        "29 % on the car loan analysis, whose windows share bins coarsened by its drifted (sparse) windows; "
        "NannyML's estimate uses 10,000 equal-width bins (within 3 %). Wasserstein from histograms is within 13 %. "
        "Categorical Jensen–Shannon agrees to 1e-12 and chi-square equals SciPy without correction (NannyML's "
        "differs on the two-category columns by Yates' correction — the large relative figures are on statistics "
        "near 0). KS and Wasserstein verdicts nevertheless agree on every cell with the band: each side's band is "
        "learnt with its own statistic, so a consistent under-estimate moves statistic and band together.", ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nannyml-python", help=f"NannyML's interpreter (made with: {NML_INSTALL})")
    ap.add_argument("--show", action="store_true", help="print every cell where the verdicts differ")
    ap.add_argument("--write", action="store_true", help=f"rewrite the section {HEADING!r} of docs/statistics.md")
    args = ap.parse_args()
    t0 = time.perf_counter()
    meta = export(args.nannyml_python) if args.nannyml_python else \
        json.loads((OUT / "nml_meta.json").read_text(encoding="utf-8"))
    export_seconds = time.perf_counter() - t0
    t0 = time.perf_counter()
    joined, alerts, stats_ = compare(meta)
    joined.to_csv(OUT / "joined.csv", index=False)
    parts = {"analysis": table(alerts), "reference": table(alerts, "reference"), "statistics": stat_table(stats_),
             "disagreements": disagreements(joined)}
    print(f"NannyML {meta['nannyml']}\n\n" + "\n\n".join(f"{k}\n{v}" for k, v in parts.items()))
    if args.show:
        with pd.option_context("display.width", 250, "display.max_rows", 500):
            print(disagreements(joined, FIXED))
    if args.write:
        text = _markdown(meta, parts, alerts, joined, time.perf_counter() - t0 + export_seconds)
        write_section(ROOT / "docs" / "statistics.md", HEADING, text)


if __name__ == "__main__":
    main()

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
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "nml"
sys.path.insert(0, str(ROOT))

from vision_widgets.client import Profile, Roles, profile  # noqa: E402
from vision_widgets.core.stats.drift import FIXED, REFERENCE_CHUNKS, DriftSettings, drift  # noqa: E402

NML_INSTALL = 'python3.11 -m venv /tmp/nml && /tmp/nml/bin/pip install "nannyml==0.13.*" "pandas<3" statsmodels'
#: NannyML's method key -> ours
METHODS = {"kolmogorov_smirnov": "ks", "wasserstein": "wasserstein", "jensen_shannon": "jensenshannon",
           "chi2": "chisquare"}
MODES = (FIXED, REFERENCE_CHUNKS)


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


def compare(meta: dict) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Joined rows, the alert table (dataset × method × mode × period) and the statistic table."""
    frames = []
    for name, m in meta["datasets"].items():
        nml = pd.read_parquet(OUT / f"{name}_nml.parquet")
        frames.append(ours(name, m).merge(nml, on=["dataset", "period", "chunk", "column", "method"], how="inner"))
    joined = pd.concat(frames, ignore_index=True)
    j = joined.assign(both=joined.drifted & joined.alert, nml_only=~joined.drifted & joined.alert,
                      ours_only=joined.drifted & ~joined.alert)
    alerts = (j.groupby(["dataset", "method", "mode", "period"], sort=False)
              .agg(cells=("alert", "size"), nml=("alert", "sum"), ours=("drifted", "sum"), both=("both", "sum"),
                   nml_only=("nml_only", "sum"), ours_only=("ours_only", "sum")).reset_index())
    s = joined[(joined["mode"] == FIXED) & np.isfinite(joined["value"])].copy()
    s["rel"] = (s["ours_scaled"] - s["value"]).abs() / s["value"].abs().where(s["value"] != 0, np.nan)
    stats = (s.groupby(["dataset", "method"], sort=False)
             .agg(cells=("rel", "size"), median_rel=("rel", "median"), max_rel=("rel", "max")).reset_index())
    return joined, alerts, stats


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


def stat_table(stats: pd.DataFrame) -> str:
    lines = ["| dataset | method | cells | median rel. difference | max rel. difference |", "|---|---|---:|---:|---:|"]
    for r in stats.itertuples():
        lines.append(f"| {r.dataset} | {r.method} | {r.cells} | {r.median_rel:.2%} | {r.max_rel:.1%} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nannyml-python", help=f"NannyML's interpreter (made with: {NML_INSTALL})")
    ap.add_argument("--show", action="store_true", help="print every disagreeing cell")
    args = ap.parse_args()
    if args.nannyml_python:
        meta = export(args.nannyml_python)
    else:
        meta = json.loads((OUT / "nml_meta.json").read_text(encoding="utf-8"))
    joined, alerts, stats = compare(meta)
    joined.to_csv(OUT / "joined.csv", index=False)
    print(f"NannyML {meta['nannyml']}\n\nanalysis chunks\n{table(alerts)}\n\nreference chunks\n"
          f"{table(alerts, 'reference')}\n\nstatistics\n{stat_table(stats)}")
    if args.show:
        bad = joined[joined.drifted != joined.alert]
        with pd.option_context("display.width", 250, "display.max_rows", 500, "display.max_colwidth", 60):
            print(bad[["dataset", "period", "chunk", "column", "method", "mode", "ours_scaled", "value",
                       "threshold", "upper", "drifted", "alert"]])


if __name__ == "__main__":
    main()

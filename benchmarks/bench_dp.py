"""What the differential-privacy mode costs in drift accuracy (issue 8, defect 6).

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_dp.py                 # default: 20 repetitions, a few minutes
    .venv/bin/python benchmarks/bench_dp.py --reps 40 --write   # figures into docs/statistics.md

One repetition: a reference (``stats_data.make_frame``: 20 numeric columns of five shapes + 5
categorical columns of 8 levels, so a release has q = 25 queries) and two current frames of the same
size drawn independently — one from the same distributions, one with 5 numeric columns shifted by
0.2 σ and one category's share moved (``cat_0``: half of ``level_0`` relabelled ``level_7``). Each
current profile is published exactly (k-guard only) and at every ε, and ``drift`` decides with the
default settings. Reported per ε and rows: the share of unshifted columns flagged (false alarms), the
share of shifted columns flagged (power), the median relative error of the drift statistic against
the exact release's, and the median error of a numeric column's mean in standard deviations. Every
release writes to its own throwaway ledger. Fixed seeds: the same command gives the same figures.
"""
from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_doc import write_section  # noqa: E402
from stats_data import make_frame  # noqa: E402

from vision_widgets.client import Noise, Profile, profile  # noqa: E402
from vision_widgets.core.stats.drift import drift  # noqa: E402

SHIFTED = [f"num_{i:02d}" for i in range(5)]
EPSILONS = (0.1, 0.5, 1.0, 5.0)


def _shifted(rows: int, seed: int):
    df = make_frame(rows, seed=seed, shift={c: 0.2 for c in SHIFTED})
    lv0 = np.flatnonzero(df["cat_0"].to_numpy() == "level_0")
    df.loc[lv0[: lv0.size // 2], "cat_0"] = "level_7"
    return df


def _release(cur: Profile, ref: Profile, eps: float | None, seed: int, tmp: str) -> Profile:
    """``cur`` published exactly or at ``eps`` (a copy: as if profiled with ``noise=Noise(eps)``)."""
    p = copy.copy(cur)
    p._release, p._like = None, ref
    p.noise = None if eps is None else Noise(eps, ledger=f"{tmp}/{seed}-{eps}.json", seed=seed)
    return Profile.from_json(p.to_json())


def run(rows_list: list[int], reps: int) -> list[dict[str, object]]:
    out = []
    with tempfile.TemporaryDirectory() as tmp:
        for rows in rows_list:
            acc = {eps: {"fp": [], "power": [], "rel": [], "mean_err": []} for eps in (None, *EPSILONS)}
            for r in range(reps):
                ref = Profile.from_json(profile(make_frame(rows, seed=1000 + r)).to_json())
                same = profile(make_frame(rows, seed=2000 + r), reference=ref)
                moved = profile(_shifted(rows, 3000 + r), reference=ref)
                exact = {}
                for eps in (None, *EPSILONS):
                    rs = drift(ref, _release(same, ref, eps, r, tmp))
                    rm_prof = _release(moved, ref, eps, r + 10_000, tmp)
                    rm = drift(ref, rm_prof)
                    flagged_same = set(rs.drifted_features)
                    flagged_moved = set(rm.drifted_features)
                    acc[eps]["fp"].append(len(flagged_same) / len(rs.features))
                    acc[eps]["power"].append(len(flagged_moved & set(SHIFTED + ["cat_0"])) / (len(SHIFTED) + 1))
                    stats = {f.feature: f.statistic for f in rm.features}
                    limits = {f.feature: f.threshold for f in rm.features}
                    if eps is None:
                        exact = stats
                        exact_means = {c: rm_prof.columns[c].mean for c in SHIFTED}
                        sds = {c: rm_prof.columns[c].std for c in SHIFTED}
                    else:
                        acc[eps]["rel"] += [abs(stats[c] - exact[c]) / limits[c] for c in stats if limits[c]]
                        acc[eps]["mean_err"] += [abs(rm_prof.columns[c].mean - exact_means[c]) / sds[c] for c in SHIFTED]
            for eps, a in acc.items():
                out.append({
                    "rows": rows, "epsilon": "exact" if eps is None else eps,
                    "false_alarms": float(np.mean(a["fp"])), "power": float(np.mean(a["power"])),
                    "stat_rel_err": float(np.median(a["rel"])) if a["rel"] else 0.0,
                    "mean_err_sd": float(np.median(a["mean_err"])) if a["mean_err"] else 0.0,
                })
    return out


def _table(rows: list[dict[str, object]], reps: int, seconds: float) -> str:
    lines = [
        "## Differential privacy: the cost in drift accuracy (issue 8)",
        "",
        f"Written by `benchmarks/bench_dp.py --reps {reps} --write` ({seconds:.0f} s). 25 columns (20 numeric, 5 "
        "categorical of 8 levels), so a release has q = 25 queries and each count carries Laplace noise of scale "
        "25/ε, on at most 20 bins per numeric column (`Noise.bins`). Same-distribution pairs give the false alarms (share of the 25 columns flagged); the shifted pair "
        "(5 numeric columns by 0.2 σ, half of one category's rows moved) gives the power (share of those 6 "
        "flagged); the statistic error is the median |noisy − exact| of every column's drift statistic as a share "
        "of its threshold (how much of the decision margin the noise takes); "
        "the mean error is the median |noisy − exact| of a numeric mean, in standard deviations. Default drift "
        "settings throughout.",
        "",
        "| rows | ε | false alarms | power | statistic error ÷ threshold (median) | mean error (σ, median) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        eps = r["epsilon"]
        lines.append(f"| {r['rows']:,} | {eps} | {r['false_alarms']:.1%} | {r['power']:.0%} | "
                     f"{r['stat_rel_err']:.1%} | {r['mean_err_sd']:.4f} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--write", action="store_true", help="rewrite the section of docs/statistics.md")
    args = ap.parse_args()
    t0 = time.perf_counter()
    res = run(args.rows, args.reps)
    text = _table(res, args.reps, time.perf_counter() - t0)
    print(text)
    if args.write:
        write_section(ROOT / "docs" / "statistics.md", "## Differential privacy: the cost in drift accuracy", text)


if __name__ == "__main__":
    main()

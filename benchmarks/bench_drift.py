"""Benchmark the statistics engine: the whole drift job vs. only reading the files.

Usage (from the repository root)::

    .venv/bin/python benchmarks/bench_drift.py --rows 1000000 5000000   # drift job
    .venv/bin/python benchmarks/bench_drift.py --features200             # drift on 200 features
    .venv/bin/python benchmarks/bench_drift.py --csv-gb 4.2              # peak RSS, chunked CSV
    .venv/bin/python benchmarks/bench_drift.py --rows 1000000 --write    # issue 8's figure into docs/performance.md

The drift job: read a reference and a current Parquet file (N rows x 20 numeric +
5 categorical columns), profile both, compute per-column drift in memory. The
read-only time (``pandas.read_parquet`` of both files, what a user would do
first) and a bare ``pyarrow.parquet.read_table`` of the same two files (the strictest baseline,
issue 8's "speed kept" figure: ``ratio_arrow``) are measured in the same run, interleaved with the
job, and both ratios printed; ``--write`` puts them into docs/performance.md. In the current file,
5 numeric columns are shifted by 0.2 standard deviations; the other 15 numeric
and 5 categorical columns are drawn from the same distributions as the reference.
Generated files go under ``benchmarks/out/`` (git-ignored) and are deleted after.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from perf_doc import write_section  # noqa: E402
from stats_data import make_frame  # noqa: E402

from vision_widgets.client import profile  # noqa: E402
from vision_widgets.core.stats.drift import drift  # noqa: E402

OUT = ROOT / "benchmarks" / "out"
SHIFTED = [f"num_{i:02d}" for i in range(5)]


def _median_time(fn, repeat: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), result


def bench_job(rows: int, repeat: int) -> dict[str, object]:
    OUT.mkdir(parents=True, exist_ok=True)
    ref_path, cur_path = OUT / f"ref_{rows}.parquet", OUT / f"cur_{rows}.parquet"
    t0 = time.perf_counter()
    make_frame(rows, seed=1).to_parquet(ref_path)
    make_frame(rows, seed=2, shift={c: 0.2 for c in SHIFTED}).to_parquet(cur_path)
    gen = time.perf_counter() - t0
    try:
        def read_only() -> None:
            pd.read_parquet(ref_path)
            pd.read_parquet(cur_path)

        def read_arrow() -> None:
            import pyarrow.parquet as pq

            pq.read_table(ref_path)
            pq.read_table(cur_path)

        def job():
            ref = profile(ref_path)
            cur = profile(cur_path, reference=ref)
            return drift(ref, cur)

        read_only()  # warm the page cache and imports equally for both
        job()
        # interleave so both see the same machine state
        t_read, t_job, t_arrow = [], [], []
        report = None
        for _ in range(repeat):
            t_read.append(_median_time(read_only, 1)[0])
            t, report = _median_time(job, 1)
            t_job.append(t)
            t_arrow.append(_median_time(read_arrow, 1)[0])
        r, j, a = statistics.median(t_read), statistics.median(t_job), statistics.median(t_arrow)
        flagged = set(report.drifted_features)
        numeric = [f.feature for f in report.features if f.type == "numeric"]
        unshifted = [c for c in numeric if c not in SHIFTED]
        cats = [f.feature for f in report.features if f.type != "numeric"]
        res = {
            "rows": rows,
            "read_only_s": round(r, 3),
            "read_arrow_s": round(a, 3),
            "job_s": round(j, 3),
            "ratio": round(j / r, 2),
            "ratio_arrow": round(j / a, 2),
            "shifted_flagged": f"{len(flagged & set(SHIFTED))}/{len(SHIFTED)}",
            "unshifted_flagged": f"{len(flagged & set(unshifted))}/{len(unshifted)}",
            "categorical_flagged": f"{len(flagged & set(cats))}/{len(cats)}",
            "generate_s": round(gen, 1),
        }
        w = {f.feature: f.statistic for f in report.features}
        res["wasserstein_shifted_min"] = round(min(w[c] for c in SHIFTED), 4)
        res["wasserstein_unshifted_max"] = round(max(w[c] for c in unshifted), 4)
        return res
    finally:
        ref_path.unlink(missing_ok=True)
        cur_path.unlink(missing_ok=True)


def bench_200_features(repeat: int) -> dict[str, object]:
    rng = np.random.default_rng(3)
    n = 20_000
    cols = {f"f{i:03d}": rng.normal(size=n) for i in range(180)}
    cols.update({f"c{i:02d}": rng.choice(list("abcdefgh"), size=n) for i in range(20)})
    ref = profile(pd.DataFrame(cols))
    cols2 = {c: (v + 0.3 if c.startswith("f0") else v) for c, v in cols.items()}
    cur = profile(pd.DataFrame(cols2).sample(frac=1.0, random_state=1), reference=ref)
    from vision_widgets.client import Profile

    ref_j, cur_j = Profile.from_json(ref.to_json()), Profile.from_json(cur.to_json())
    drift(ref_j, cur_j)
    t, rep = _median_time(lambda: drift(ref_j, cur_j), repeat)
    return {"features": len(rep.features), "drift_ms": round(t * 1000, 2)}


_RSS_CHILD = """
import resource, sys, time
sys.path.insert(0, {root!r})
from vision_widgets.client import profile
t0 = time.perf_counter()
p = profile({path!r})
dt = time.perf_counter() - t0
print(p.rows, dt, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def bench_csv(gb: float) -> dict[str, object]:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / "big.csv"
    target = int(gb * 1024**3)
    block = make_frame(500_000, seed=5)
    t0 = time.perf_counter()
    text = block.to_csv(index=False)
    header, body = text.split("\n", 1)
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(header + "\n")
        written = len(header) + 1
        while written < target:
            fh.write(body)
            written += len(body)
    size = path.stat().st_size
    gen = time.perf_counter() - t0
    try:
        out = subprocess.run([sys.executable, "-c", _RSS_CHILD.format(root=str(ROOT), path=str(path))],
                             capture_output=True, text=True, check=True)
        rows, seconds, rss_kb = out.stdout.split()
        return {"csv_bytes": size, "csv_gib": round(size / 1024**3, 2), "rows": int(rows),
                "profile_s": round(float(seconds), 1), "peak_rss_mib": round(int(rss_kb) / 1024, 1),
                "generate_s": round(gen, 1)}
    finally:
        path.unlink(missing_ok=True)


ARROW_HEADING = "## Drift job vs a bare Arrow read (issue 8)"


def write_arrow_section(results: list[dict[str, object]], repeat: int) -> None:
    """Rewrite the issue-8 speed section of docs/performance.md from this run's figures."""
    lines = [ARROW_HEADING, "",
             f"Written by `benchmarks/bench_drift.py --rows ... --write` ({os.cpu_count()} cores, numpy "
             f"{np.__version__}, pandas {pd.__version__}; median of {repeat} interleaved runs; load average "
             f"{os.getloadavg()[0]:.1f} at the end). **The machine "
             "is shared with other sessions (tests, benchmarks) and busy: absolute times are noisy; the "
             "ratios, measured side by side in one run, are the figures.** Reference and current Parquet "
             "files of N rows × 20 numeric + 5 categorical columns; the job = profile both, drift.", "",
             "| rows | `pq.read_table` ×2 | whole job | job ÷ arrow read | `pd.read_parquet` ×2 | job ÷ pandas read "
             "| 0.2σ-shifted flagged | unshifted flagged |",
             "|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['read_arrow_s']} s | {r['job_s']} s | **{r['ratio_arrow']}×** | "
                     f"{r['read_only_s']} s | {r['ratio']}× | {r['shifted_flagged']} | {r['unshifted_flagged']} numeric, "
                     f"{r['categorical_flagged']} categorical |")
    write_section(ROOT / "docs" / "performance.md", ARROW_HEADING, "\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, nargs="*", default=[])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--features200", action="store_true")
    ap.add_argument("--csv-gb", type=float, default=None)
    ap.add_argument("--write", action="store_true", help="write the --rows figures into docs/performance.md")
    args = ap.parse_args()
    print(f"cpus={os.cpu_count()} numpy={np.__version__} pandas={pd.__version__}")
    jobs = []
    for n in args.rows:
        jobs.append(bench_job(n, args.repeat))
        print(jobs[-1], flush=True)
    if args.write and jobs:
        write_arrow_section(jobs, args.repeat)
    if args.features200:
        print(bench_200_features(args.repeat * 10), flush=True)
    if args.csv_gb:
        print(bench_csv(args.csv_gb), flush=True)


if __name__ == "__main__":
    main()

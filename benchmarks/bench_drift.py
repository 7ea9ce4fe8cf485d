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

from vision_widgets.client import DEFAULT_CHUNK_ROWS, profile  # noqa: E402
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


def _timed(fn) -> tuple[float, float, object]:
    """Wall and CPU seconds (every thread of this process: Arrow's and the profile's) of one call."""
    w0, c0 = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - w0, time.process_time() - c0, result


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

        def read_as_the_job_does() -> None:
            # the job's own reading, nothing else: strings as dictionaries, batches of a chunk
            import pyarrow.parquet as pq

            for path in (ref_path, cur_path):
                names = pq.ParquetFile(path).schema_arrow.names
                pf = pq.ParquetFile(path, read_dictionary=[n for n in names if n.startswith("cat_")])
                for _ in pf.iter_batches(batch_size=DEFAULT_CHUNK_ROWS, use_threads=True):
                    pass

        parts: dict[str, list[float]] = {"ref": [], "cur": [], "drift": []}

        def job():
            t0 = time.perf_counter()
            ref = profile(ref_path)
            t1 = time.perf_counter()
            cur = profile(cur_path, reference=ref)
            t2 = time.perf_counter()
            out = drift(ref, cur)
            t3 = time.perf_counter()
            for key, dt in (("ref", t1 - t0), ("cur", t2 - t1), ("drift", t3 - t2)):
                parts[key].append(dt)
            return out

        read_only()  # warm the page cache and imports equally for both
        job()
        for v in parts.values():
            v.clear()
        # interleave so all see the same machine state
        t_read, t_job, t_arrow, t_iter = [], [], [], []
        report = None
        for _ in range(repeat):
            t_read.append(_median_time(read_only, 1)[0])
            w, c, report = _timed(job)
            t_job.append((w, c))
            t_arrow.append(_timed(read_arrow)[:2])
            t_iter.append(_timed(read_as_the_job_does)[:2])
        r = statistics.median(t_read)
        j, j_cpu = (statistics.median(x[i] for x in t_job) for i in (0, 1))
        a, a_cpu = (statistics.median(x[i] for x in t_arrow) for i in (0, 1))
        it, it_cpu = (statistics.median(x[i] for x in t_iter) for i in (0, 1))
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
            "job_cpu_s": round(j_cpu, 3),
            "read_arrow_cpu_s": round(a_cpu, 3),
            "job_read_s": round(it, 3),
            "job_read_cpu_s": round(it_cpu, 3),
            "job_ref_s": round(statistics.median(parts["ref"]), 3),
            "job_cur_s": round(statistics.median(parts["cur"]), 3),
            "job_drift_s": round(statistics.median(parts["drift"]), 4),
            "load": round(os.getloadavg()[0], 1),
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
    """Rewrite the issue-8 speed section of docs/performance.md from this run's figures.

    Besides the two reads and the job, the run times the job's own reading alone (strings as
    dictionaries, chunk-sized batches) and takes CPU seconds of every call, so the section can
    say where the time goes and what the 2 cores allow, from the same run.
    """
    lines = [ARROW_HEADING, "",
             f"Written by `benchmarks/bench_drift.py --rows ... --write` ({os.cpu_count()} cores, numpy "
             f"{np.__version__}, pandas {pd.__version__}; median of {repeat} interleaved runs; load average "
             f"{os.getloadavg()[0]:.1f} at the end). **The machine "
             "is shared with other sessions (tests, benchmarks) and busy: absolute times are noisy; the "
             "ratios, measured side by side in one run, are the figures.** Reference and current Parquet "
             "files of N rows × 20 numeric + 5 categorical columns; the job = profile both, drift. CPU = "
             "seconds of CPU of every thread of the process (Arrow's and the profile's) during the call.", "",
             "| rows | `pq.read_table` ×2 (CPU) | whole job (CPU) | job ÷ arrow read | job: reference / current "
             "/ drift | the job's own read alone (CPU) | `pd.read_parquet` ×2 | job ÷ pandas read "
             "| 0.2σ-shifted flagged | unshifted flagged |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['read_arrow_s']} s ({r['read_arrow_cpu_s']} s) | {r['job_s']} s "
                     f"({r['job_cpu_s']} s) | **{r['ratio_arrow']}×** | {r['job_ref_s']} / {r['job_cur_s']} / "
                     f"{r['job_drift_s']} s | {r['job_read_s']} s ({r['job_read_cpu_s']} s) | {r['read_only_s']} s | "
                     f"{r['ratio']}× | {r['shifted_flagged']} | {r['unshifted_flagged']} numeric, "
                     f"{r['categorical_flagged']} categorical |")
    lines.append("")
    for r in results:
        job_cpu, arrow_cpu = float(r["job_cpu_s"]), float(r["read_arrow_cpu_s"])
        lines.append(f"- {r['rows']:,} rows: the job used {job_cpu} s of CPU, `read_table` {arrow_cpu} s: "
                     f"**{job_cpu / arrow_cpu:.2f}× the CPU**. Using the cores as fully as `read_table` does "
                     f"({arrow_cpu / float(r['read_arrow_s']):.2f} cores busy on average in this run; the job "
                     f"{job_cpu / float(r['job_s']):.2f}), the job would take that many times as long.")
    verdicts = "; ".join(f"{r['rows']:,} rows **{r['ratio_arrow']}×**, "
                         f"{'met' if float(r['ratio_arrow']) <= 1.5 else 'not met'}" for r in results)
    lines += ["", f"**The 1.5× aim in this run:** {verdicts}.", "", PROSE]
    write_section(ROOT / "docs" / "performance.md", ARROW_HEADING, "\n".join(lines) + "\n")


PROSE = """Where the job's time goes (cProfile of the 1 M job with its threads run inline, and the breakdown
above; 2026-11-27, `vision_widgets/client.py` after issue 8's speed work):

- **Reading, ~0.14 s of CPU for both files** (the "own read" column): the same Parquet decode as
  `read_table`, minus materialising 10 M strings (the job reads them as Arrow dictionaries: the
  distinct values once, an index per row). It cannot be avoided; it is the baseline itself.
- **Numeric binning, ~0.12 s of CPU** for 2 × 20 M values, ~3 ns a value: scale and shift onto the
  grid, sum, sum of squares, the winsorising check (min, max), clamp, truncate to a cell, then two
  scatter-adds (`np.add.at`: count and sum per fine cell, ~0.7 ns a value each, half of the time).
  The per-bin sums must be added in row order to stay what they were to the bit, so the scatter is the
  floor; numpy holds the GIL while it scatters (as it does in `bincount`), so two threads bin 20
  columns × 1 M values only ~1.1–1.2× as fast as one, not 2×.
- **Everything else, ~0.05 s**: categorical counts (0.014 s), placing the reference's edges (sorted
  50,000-value sample per column, ~0.015 s), type inference on 10,000 sample rows, thread hand-offs.
  Drift itself — every two-sample test (Wasserstein, KS, chi-square, Jensen-Shannon, PSI) on the
  profiles, and the exact discrete support — is the third figure of "reference / current / drift":
  milliseconds. Discrete support costs nothing per value (a discrete grid is binned like any other);
  detecting it is one comparison over the sorted edge sample.
- The **reference** cannot bin a numeric value before its edges are placed, and they come from its first
  786,432 rows (3 chunks: `EDGE_CELLS` / 27 columns, rounded up to whole chunks). Its reading and its
  binning run one after the other; only the current file's reading and binning overlap (a read-ahead
  thread decodes the next chunk while the column tasks bin the current one).

**Why the ratio moves from run to run, and why the aim is not met.** CPU seconds vary less with the
machine's load than wall time: the job needs ~1.6–1.9× the CPU of `read_table`, at 1 M and at 5 M rows
alike (the lines above). The wall-clock ratio then depends on how much of the two cores each one gets.
On a quiet machine `read_table` keeps ~1.7 cores busy and the job ~1.35–1.5 (the scatter-adds hold the GIL,
and the reference reads before it bins), so the 1 M job takes ~1.8× the bare read (1.77× and 1.87× in
interleaved runs at load 1.0–1.4 while this was written); on a loaded machine neither gets both cores
and the ratio drifts towards the CPU ratio or below it (1.30–1.63× at load 2–3.5 the same afternoon).
At 5 M rows `read_table` allocates two whole tables (~1.7 GB with the 50 M strings) and its wall time
swings with how the allocator gets that memory (0.57 s to 2.1 s for the same files the same afternoon),
so the 5 M ratio ranged from 0.78× to 2.06×. The job's CPU alone is over 1.5× the bare read's; it lands
under 1.5× only in runs where the bare read is slowed down, so the aim is **not met**. Before this work
the same benchmark gave 2.97× at 1 M (the previous `--write`) and 2.4× in interleaved runs at the start
of it; in one run side by side (load 9) the previous client's 1 M job used 0.50 s of CPU, this one
0.33 s (`read_table` 0.22 s). Meeting 1.5× would take binning outside the GIL (a compiled kernel: not
possible in `client.py`, which ships with numpy and pandas only) or fewer CPU-seconds per value than the
two scatter-adds leave room for.

What changed (issue 8, each result identical to the bit; `tests/test_client_hotpath.py` compares every
step with the method it replaced):

| step | before | after |
|---|---|---|
| counts and sums per fine cell | two `np.bincount` (each first scans for min and max) | two `np.add.at` (one pass, same row order): 104 → 65 ms for 20 × 1 M values |
| clamp to the grid | `np.maximum` + `np.minimum` | one `np.clip` |
| reference edges | `np.quantile` partitioning 50,000 values for 99 positions (1.8 ms a column), serially | sort once, then quantiles of the sorted sample (0.4 ms), one task per column |
| type-inference sample | a second `iter_batches` read (all column chunks of the first row group again) | the first chunk's first rows |
| categorical counts | indices copied to a fresh intp array, + 1 into another, `bincount` (page faults) | `np.add.at` on Arrow's dictionary indices in place: 62 → 14 ms CPU |
| reading | the main thread read, then waited for the column tasks, then read again | a read-ahead thread (one chunk ahead) |
"""


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

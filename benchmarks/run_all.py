"""``make bench``: every benchmark at its default size, one after the other.

Figures, not asserts. Each script prints its own figures; the page-load and
model-registry benchmarks also rewrite their own section of docs/performance.md
when given ``--write``. Heavier runs (5M rows, the >4 GB CSV, 200 page loads)
are documented at the top of each script.
"""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent

RUNS = [
    ["bench_drift.py", "--rows", "1000000", "--features200"],
    ["bench_calibration.py"],  # default size; the full run's options are in its docstring
    ["bench_dp.py"],  # the differential-privacy mode's cost in drift accuracy
    ["bench_models.py"],
    ["bench_pageload.py", "--runs", "5", "--loads", "50"],
    ["bench_ui.py", "--runs", "3"],  # this checkout only; before/after: --checkout BEFORE --checkout AFTER
    ["bench_load.py", "--sessions", "20"],  # one server, then two behind nginx (apt-get installs it as root)
]


def main() -> int:
    failed = 0
    for args in RUNS:
        script = HERE / args[0]
        if not script.exists():
            print(f"== {args[0]}: missing, skipped", flush=True)
            continue
        print(f"== {' '.join(args)}", flush=True)
        failed += subprocess.call([sys.executable, str(script), *args[1:]]) != 0
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""Evidently's DataDriftPreset on the calibration benchmark's raw samples, in Evidently's own venv.

Evidently is never a dependency of Vision AI: ``bench_calibration.py --evidently-python PATH`` runs
this file with that interpreter (needs ``evidently==0.7.*``, ``pandas<3``, ``scipy``; 0.7 does not
import under pandas 3). It reads one JSON job from argv — kind, n, reps, seed, categories, shifts —
draws the same samples as the benchmark (``calib_data``) and prints, per shift, the share of
repetitions (columns) the preset's per-column verdict called drifted, as JSON (shifts in increasing
order, stopping after the first detected at ``stop_at``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from calib_data import sample  # noqa: E402


def _frame(block, kind: str) -> pd.DataFrame:
    cols = {f"r{j:03d}": block[:, j] for j in range(block.shape[1])}
    df = pd.DataFrame(cols)
    return df.astype(str) if kind == "categorical" else df


def main() -> None:
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    job = json.loads(sys.argv[1])
    kind, n, reps, seed, k = job["kind"], job["n"], job["reps"], job["seed"], job.get("categories", 0)
    ref = _frame(sample(kind, n, reps, seed, side=0, categories=k), kind)
    names = list(ref.columns)
    definition = (DataDefinition(categorical_columns=names) if kind == "categorical"
                  else DataDefinition(numerical_columns=names))
    ref_ds = Dataset.from_pandas(ref, data_definition=definition)
    out = {}
    for shift in job["shifts"]:
        cur = _frame(sample(kind, n, reps, seed, side=1, categories=k, shift=shift), kind)
        snap = Report([DataDriftPreset()]).run(Dataset.from_pandas(cur, data_definition=definition), ref_ds)
        flagged, method = 0, None
        for m in snap.dict()["metrics"]:
            cfg = m.get("config", {})
            if not str(cfg.get("type", "")).endswith("ValueDrift"):
                continue
            method, value, thr = cfg["method"], float(m["value"]), float(cfg["threshold"])
            flagged += (value < thr) if "p_value" in method else (value >= thr)
        out[str(shift)] = {"rate": flagged / reps, "method": method}
        if flagged / reps >= job.get("stop_at", 2.0):
            break  # detected; a larger shift only more so
    print(json.dumps(out))


if __name__ == "__main__":
    main()

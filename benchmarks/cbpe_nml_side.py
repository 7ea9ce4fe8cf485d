"""NannyML's CBPE on its shipped binary dataset, in NannyML's own venv (see bench_cbpe.py).

NannyML is never a dependency of Vision AI: ``bench_cbpe.py --nannyml-python PATH`` runs this file with
that interpreter. Into the output directory (the only argument) it writes the raw reference and
analysis frames (``cbpe_reference.parquet``, ``cbpe_analysis.parquet``, the analysis with its targets
joined, which our side profiles with and without them) and ``cbpe_nml.json``: per analysis chunk,
NannyML's estimate, its realised value and its thresholds, for every metric both sides estimate.
"""
from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore")

METRICS = ["accuracy", "precision", "recall", "f1", "roc_auc"]
CHUNK = 5000


def main(out: Path) -> None:
    import nannyml as nml

    reference, analysis, targets = nml.load_synthetic_binary_classification_dataset()
    analysis = analysis.merge(targets, on="id")
    keep = ["distance_from_office", "salary_range", "gas_price_per_litre", "public_transportation_cost",
            "wfh_prev_workday", "workday", "tenure", "work_home_actual", "timestamp", "y_pred_proba", "y_pred"]
    reference[keep].to_parquet(out / "cbpe_reference.parquet", index=False)
    analysis[keep].to_parquet(out / "cbpe_analysis.parquet", index=False)
    est = nml.CBPE(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="work_home_actual", timestamp_column_name="timestamp",
                   metrics=METRICS, chunk_size=CHUNK, problem_type="classification_binary")
    est.fit(reference)
    res = est.estimate(analysis).filter(period="analysis").to_df()
    calc = nml.PerformanceCalculator(y_pred_proba="y_pred_proba", y_pred="y_pred", y_true="work_home_actual",
                                     timestamp_column_name="timestamp", metrics=METRICS, chunk_size=CHUNK,
                                     problem_type="classification_binary")
    calc.fit(reference)
    real = calc.calculate(analysis).filter(period="analysis").to_df()
    chunks = []
    for i in range(len(res)):
        row = {"chunk": int(res[("chunk", "chunk_index")].iloc[i]), "start": int(res[("chunk", "start_index")].iloc[i]),
               "end": int(res[("chunk", "end_index")].iloc[i]), "estimated": {}, "realised": {}, "lower": {},
               "upper": {}, "alert": {}}
        for m in METRICS:
            row["estimated"][m] = float(res[(m, "value")].iloc[i])
            row["realised"][m] = float(real[(m, "value")].iloc[i])
            lo, hi = res[(m, "lower_threshold")].iloc[i], res[(m, "upper_threshold")].iloc[i]
            row["lower"][m] = None if lo != lo or lo is None else float(lo)
            row["upper"][m] = None if hi != hi or hi is None else float(hi)
            row["alert"][m] = bool(res[(m, "alert")].iloc[i])
        chunks.append(row)
    (out / "cbpe_nml.json").write_text(json.dumps({"nannyml_version": nml.__version__, "chunk_size": CHUNK,
                                                   "metrics": METRICS, "chunks": chunks}, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))

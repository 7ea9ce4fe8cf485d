"""NannyML's univariate drift on its own shipped datasets, in NannyML's own venv.

NannyML is never a dependency of Vision AI: ``bench_nannyml.py --nannyml-python PATH`` runs this file
with that interpreter (``python3.11 -m venv /tmp/nml && /tmp/nml/bin/pip install "nannyml==0.13.*"
"pandas<3" statsmodels``; 0.13 imports statsmodels without declaring it). For every dataset it writes,
into the output directory given as the only argument:

- ``{dataset}_reference.parquet`` and ``{dataset}_analysis.parquet``: the raw frames, which our side
  profiles, so both sides read the same rows;
- ``{dataset}_nml.parquet``: one row per (period, chunk, column, method) of
  ``UnivariateDriftCalculator`` fitted on the reference with NannyML's default thresholds
  (``StandardDeviationThreshold(std_lower_multiplier=None)``, i.e. mean + 3 std of the reference
  chunks; chi-square alerts on p < 0.05 instead) — statistic, lower/upper threshold, alert —
  with every method both sides share: Kolmogorov–Smirnov, Wasserstein and Jensen–Shannon for
  continuous columns, chi-square and Jensen–Shannon for categorical ones (NannyML's default is
  Jensen–Shannon for both);
- ``nml_meta.json``: NannyML's version, the chunk size and column types per dataset.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pandas as pd

#: dataset -> (loader, columns monitored, chunk size as in NannyML's tutorials for that dataset)
DATASETS = {
    "car_price": ("load_synthetic_car_price_dataset",
                  ["car_age", "km_driven", "price_new", "accident_count", "door_count", "fuel", "transmission",
                   "y_pred"], 6000),
    "multiclass": ("load_synthetic_multiclass_classification_dataset",
                   ["acq_channel", "app_behavioral_score", "requested_credit_limit", "app_channel",
                    "credit_bureau_score", "stated_income", "is_customer", "y_pred"], 6000),
    "car_loan": ("load_synthetic_car_loan_dataset",
                 ["car_value", "salary_range", "debt_to_income_ratio", "loan_length", "repaid_loan_on_prev_car",
                  "size_of_downpayment", "driver_tenure", "y_pred_proba"], 5000),
}
CONTINUOUS = ["kolmogorov_smirnov", "wasserstein", "jensen_shannon"]
CATEGORICAL = ["chi2", "jensen_shannon"]


def run(name: str, out: Path) -> dict[str, object]:
    import nannyml as nml

    loader, columns, chunk_size = DATASETS[name]
    reference, analysis, _ = getattr(nml, loader)()
    reference = reference[columns].copy()
    analysis = analysis[columns].copy()
    reference.to_parquet(out / f"{name}_reference.parquet", index=False)
    analysis.to_parquet(out / f"{name}_analysis.parquet", index=False)
    calc = nml.UnivariateDriftCalculator(column_names=columns, chunk_size=chunk_size,
                                         continuous_methods=CONTINUOUS, categorical_methods=CATEGORICAL)
    calc.fit(reference)
    data = calc.calculate(analysis).data
    rows = []
    for col, method, field in data.columns:
        if col == "chunk" or field != "value":
            continue
        for i in range(len(data)):
            rows.append({
                "dataset": name, "period": data[("chunk", "chunk", "period")].iloc[i],
                "chunk": int(data[("chunk", "chunk", "chunk_index")].iloc[i]),
                "start": int(data[("chunk", "chunk", "start_index")].iloc[i]),
                "end": int(data[("chunk", "chunk", "end_index")].iloc[i]),
                "column": col, "method": method,
                "value": float(data[(col, method, "value")].iloc[i]),
                "upper": _num(data[(col, method, "upper_threshold")].iloc[i]),
                "lower": _num(data[(col, method, "lower_threshold")].iloc[i]),
                "alert": bool(data[(col, method, "alert")].iloc[i]),
            })
    pd.DataFrame(rows).to_parquet(out / f"{name}_nml.parquet", index=False)
    return {"chunk_size": chunk_size, "continuous": calc.continuous_column_names,
            "categorical": calc.categorical_column_names, "rows": [len(reference), len(analysis)]}


def _num(v: object) -> float | None:
    return None if v is None or pd.isna(v) else float(v)


def main() -> None:
    os.environ.setdefault("NML_DISABLE_USAGE_LOGGING", "1")  # no network calls home from a benchmark
    import nannyml as nml

    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    meta = {"nannyml": nml.__version__, "datasets": {name: run(name, out) for name in DATASETS}}
    (out / "nml_meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    print(json.dumps(meta))


if __name__ == "__main__":
    main()

"""Model registry benchmark: the model list and Model 360 with 1,000 models, and a 1M-row registration.

    .venv/bin/python benchmarks/bench_models.py [--models 1000] [--features 50] [--rows 1000000]
                                                [--repeat 20] [--write docs/performance.md]

1. ``--models`` models of ``--features`` features each are stored through the registry functions
   (``records.insert``/``add_profile``/``add_drift``, one transaction): one 50-feature frame is
   profiled once and the same reference/production JSON is stored for every model.
2. In the kernel (in-process, no browser): the model list filter (``list_models`` + the Model 360
   view's table and dropdown update, as typing in the filter box does) and opening one model's
   360 page (``model_360`` + every KPI, table and chart of the view), median of ``--repeat`` each.
3. Registering an unrestricted model whose production file has ``--rows`` rows (fraud demo
   schema, CSV): total seconds, and a plain ``pandas.read_csv`` of the same file in the same run
   to give the share of the registration spent reading the file.

Figures only; nothing is asserted. ``--write`` replaces the "## Model registry" section.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from perf_doc import write_section  # noqa: E402 - benchmarks/ is the script's folder

from vision_widgets import client  # noqa: E402
from vision_widgets.core import connectors, seed  # noqa: E402
from vision_widgets.core.catalog import records
from vision_widgets.core.config import load_settings  # noqa: E402
from vision_widgets.core.context import Context  # noqa: E402
from vision_widgets.core.identity import sessions
from vision_widgets.core.stats.drift import drift  # noqa: E402
from vision_widgets.demo import datasets
from vision_widgets.services import catalog, model360, registration  # noqa: E402

SECTION = "## Model registry"
OWNERS = ("datascientist_user", "productowner_user", "sre_user", "mlengineer_user", "appowner_user")
PLATFORMS = ("Databricks", "AWS SageMaker", "Azure ML", "on-premises")


def wide_frame(rows: int, features: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    """``features`` columns (one in five categorical), a binary target and a score."""
    rng = np.random.default_rng(seed)
    cols, logit = {}, np.zeros(rows)
    for i in range(features):
        if i % 5 == 4:
            cols[f"cat_{i:02d}"] = rng.choice(["a", "b", "c", "d"], rows, p=[0.4, 0.3, 0.2, 0.1])
        else:
            x = rng.normal(shift * (i % 3 == 0), 1.0, rows)
            cols[f"num_{i:02d}"] = x
            logit += x * (0.3 if i < 10 else 0.0)
    p = 1 / (1 + np.exp(-logit))
    cols["target"] = (rng.random(rows) < p).astype(int)
    cols["score"] = np.round(p, 4)
    return pd.DataFrame(cols)


def store_models(ctx: Context, n: int, features: int) -> float:
    """Insert ``n`` models sharing one profiled reference/production pair; returns seconds."""
    roles = client.Roles(target="target", prediction="score")
    reference = client.profile(wide_frame(5000, features, 1), roles)
    production = client.profile(wide_frame(5000, features, 2, shift=0.3), reference=reference)
    report = drift(reference, production)
    ref_json, prod_json = reference.to_json(), production.to_json()
    drift_json = json.dumps(report.to_dict(), allow_nan=False)
    model_roles = {"target": "target", "prediction": "score", "timestamp": None, "features": None, "exclude": []}
    started = time.perf_counter()
    now = ctx.now()
    with ctx.store.write() as conn:
        for i in range(n):
            owner = OWNERS[i % len(OWNERS)]
            record = records.insert(
                conn, name=f"Model {i:04d}", description="benchmark", task="binary classification",
                platform=PLATFORMS[i % len(PLATFORMS)], connector="local", connector_details={}, owner=owner,
                lob=f"LOB {i % 5}", sub_lob="", roles=model_roles, restricted=False, status="active",
                drift_settings={}, created_by=owner, now=now,
            )
            records.add_profile(conn, record.id, "reference", "training", "server", reference.rows, ref_json, now)
            pid = records.add_profile(conn, record.id, "production", "batch", "server", production.rows, prod_json,
                                       now)
            records.add_drift(conn, record.id, pid, report.dataset_drift, report.drift_share, drift_json, now)
    return time.perf_counter() - started


def median_ms(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times), times


def bench_views(ctx: Context, repeat: int, n: int) -> dict:
    from vision_widgets.state import AppState
    from vision_widgets.views.model360 import Model360View

    admin = sessions.operator_session(ctx, "sre_admin")
    user = sessions.operator_session(ctx, "datascientist_user")
    state = AppState()
    state.sign_in(admin)
    t = time.perf_counter()
    view = Model360View(ctx, state)
    build_ms = (time.perf_counter() - t) * 1000
    needles = [f"model 0{i % 10}" for i in range(repeat)]
    it = iter(needles * 2)
    out = {"view_build_ms": build_ms}
    out["list_service_ms"], _ = median_ms(lambda: catalog.list_models(ctx, admin, text=next(it)), repeat)
    it = iter(needles * 2)

    def filter_in_view():
        view.search.value = next(it)  # observer: list_models + table + dropdown (+ opens the first match)

    out["list_filter_view_ms"], _ = median_ms(filter_in_view, repeat)
    out["list_all_user_ms"], _ = median_ms(lambda: catalog.list_models(ctx, user), repeat)
    names = [f"Model {i * 37 % n:04d}" for i in range(repeat)]
    it = iter(names * 2)
    out["model360_service_ms"], _ = median_ms(lambda: model360.model_360(ctx, admin, next(it)), repeat)
    it = iter(names * 2)
    out["model360_view_ms"], _ = median_ms(lambda: view.show(next(it)), repeat)
    view.close()
    return out


def bench_registration(ctx: Context, rows: int) -> dict:
    folder = connectors.demo_folder(ctx.settings)
    folder.mkdir(parents=True, exist_ok=True)
    fraud = datasets.MODELS[0]
    train, prod = datasets.generate(fraud, 20_000, -(-rows // datasets.PROD_WEEKS))
    prod = prod.iloc[:rows]
    train_path, prod_path = folder / "bench_training.csv", folder / "bench_production.csv"
    train.to_csv(train_path, index=False)
    prod.to_csv(prod_path, index=False)
    size_mb = prod_path.stat().st_size / 1e6
    spec = registration.ModelSpec(name="Registration benchmark", task=fraud.task, target=fraud.target,
                        prediction=fraud.prediction, timestamp=fraud.timestamp, exclude=fraud.exclude,
                        training=str(train_path), production=str(prod_path))
    owner = sessions.operator_session(ctx, "datascientist_user")
    t = time.perf_counter()
    registration.register_model(ctx, owner, spec)
    total = time.perf_counter() - t
    t = time.perf_counter()
    pd.read_csv(prod_path)
    read = time.perf_counter() - t
    try:
        import pyarrow.csv as pacsv

        t = time.perf_counter()
        pacsv.read_csv(prod_path)
        read_arrow = time.perf_counter() - t
    except ImportError:
        read_arrow = None
    return {"rows": len(prod), "columns": prod.shape[1], "size_mb": size_mb, "total_s": total, "read_s": read,
            "read_arrow_s": read_arrow}


def report(args, n_store_s: float, views: dict, reg: dict | None) -> str:
    lines = [
        SECTION,
        "",
        f"`benchmarks/bench_models.py` — {args.models:,} models of {args.features} features each in SQLite "
        f"(stored in {n_store_s:.1f} s through `core.catalog.records`), measured in-process (service + view build, "
        f"no browser), median of {args.repeat}; {os.cpu_count()} CPUs, on a shared machine (other jobs running).",
        "",
        "| what | median |",
        "|---|---|",
        f"| model list filter, service only (`list_models`, admin, name filter) | {views['list_service_ms']:.0f} ms |",
        f"| model list filter in the view (type in the filter box: service + table + dropdown + open first match) "
        f"| {views['list_filter_view_ms']:.0f} ms |",
        f"| a user's own list ({args.models // len(OWNERS):,} of the {args.models:,}) | {views['list_all_user_ms']:.0f} ms |",
        f"| open one model, service only (`model_360`: load 2 profiles, recompute drift) "
        f"| {views['model360_service_ms']:.0f} ms |",
        f"| open one model's 360 page (service + KPIs, tables, coefficient chart, histogram) "
        f"| {views['model360_view_ms']:.0f} ms |",
        f"| build the Model 360 view with the list (once) | {views['view_build_ms']:.0f} ms |",
        "",
    ]
    if reg:
        share = reg["read_s"] / reg["total_s"] if reg["total_s"] else float("nan")
        arrow = f"; pyarrow.csv reads it in {reg['read_arrow_s']:.1f} s" if reg["read_arrow_s"] is not None else ""
        lines += [
            f"Registering an unrestricted model (fraud demo schema, {reg['columns']} columns) with "
            f"{reg['rows']:,} production rows ({reg['size_mb']:.0f} MB CSV) and 20,000 training rows: "
            f"**{reg['total_s']:.1f} s** in total. A plain `pandas.read_csv` of the production file takes "
            f"{reg['read_s']:.1f} s in the same run, i.e. **{share:.0%}** of the registration{arrow}. "
            "The rest is profiling (histograms, confusion counts, weekly windows), the surrogate and drift.",
            "",
        ]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--rows", type=int, default=1_000_000, help="production rows to register (0: skip)")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--write", type=Path, default=None, help="e.g. docs/performance.md")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="vision-bench-models-") as tmp:
        settings = load_settings({"VISION_HOME": str(Path(tmp) / "home")})
        ctx = Context.open(settings, upgrade=True)
        seed.load_users(ctx, settings.users_file)
        store_s = store_models(ctx, args.models, args.features)
        print(f"stored {args.models} models in {store_s:.1f} s", flush=True)
        views = bench_views(ctx, args.repeat, args.models)
        for key, value in views.items():
            print(f"{key}: {value:.1f} ms", flush=True)
        reg = bench_registration(ctx, args.rows) if args.rows else None
        if reg:
            print(f"registration of {reg['rows']:,} production rows: {reg['total_s']:.1f} s; "
                  f"pandas.read_csv {reg['read_s']:.1f} s ({reg['read_s'] / reg['total_s']:.0%})", flush=True)
        ctx.store.dispose()
    text = report(args, store_s, views, reg)
    print(text)
    if args.write:
        write_section(args.write, SECTION, text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

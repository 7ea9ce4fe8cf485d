"""``vision init --demo``: the five personas' demo models, registered through the real paths.

Four models go through the unrestricted path (files → connector → profiles →
drift); the retail model goes through the restricted path: it is registered
as "awaiting metrics", the client notebook is executed on its data, and the
submission it writes is accepted with the model's upload token. The data is
generated (seeded) and every model is labelled demo data.

Each demo model also gets daily usage records (predictions, compute hours, resource shares) over
its production data's days, sent through ``services.usage.ingest`` (``demo/usage.py``).

Each demo model expects a weekly batch (cadence ``7D``, what Monitoring checks
freshness against). The open models' tables are also written to a SQLite file
behind a stored ``sql`` connector, ``demo-warehouse``, tested once, so the
Connectors page, the Register page's browser and Monitoring show a database
source on a fresh install (labelled demo data in its description).
"""
from __future__ import annotations

import sqlite3
import tempfile
from pathlib import Path
from typing import Callable

import pandas as pd

from vision_widgets.core import connectors
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.client_notebook import execute
from vision_widgets.core.config import CLIENT_NOTEBOOK
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConfigurationError, VisionError
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.demo import datasets
from vision_widgets.demo import usage as demo_usage
from vision_widgets.services import connectors as stored_connectors
from vision_widgets.services import cost_rates, registration, scheduled_pulls, submissions
from vision_widgets.services.sessions import operator

#: The stored connector over the demo tables, and how often the demo models expect a batch.
DEMO_CONNECTOR = "demo-warehouse"
DEMO_CADENCE = "7D"


def _spec(model: datasets.DemoModel, training: Path, production: Path) -> registration.ModelSpec:
    return registration.ModelSpec(
        name=model.name, task=model.task, description=model.description, platform=model.platform,
        connector_details={"demo": True}, target=model.target, prediction=model.prediction,
        timestamp=model.timestamp, exclude=model.exclude, restricted=model.restricted,
        training=str(training), production=str(production),
    )


def _restricted(ctx: Context, principal: Principal, model: datasets.DemoModel, training: Path,
                production: Path) -> None:
    reg = registration.register_model(ctx, principal, _spec(model, training, production))
    with tempfile.TemporaryDirectory(prefix="vision-demo-client-") as tmp:
        out = Path(tmp) / "submission.json"
        execute(CLIENT_NOTEBOOK, {
            "MODEL_NAME": model.name, "TRAINING_DATA": str(training), "PRODUCTION_DATA": str(production),
            "TARGET": model.target, "PREDICTION": model.prediction, "TIMESTAMP": model.timestamp,
            "EXCLUDE": list(model.exclude), "PRIVACY_K": ctx.settings.privacy_k, "LABEL": "initial production data",
            "OUTPUT_FILE": str(out), "SEND": False, "UPLOAD_TOKEN": "",
        }, cwd=Path(tmp))
        submissions.submit_with_token(ctx, reg.upload_token, model.name, out.read_bytes())


def install(ctx: Context, say: Callable[[str], None] = print) -> list[str]:
    """Write the demo files (if missing) and register the demo models not registered yet."""
    folder = connectors.demo_folder(ctx.settings)
    paths = {m.name: datasets.file_paths(folder, m) for m in datasets.MODELS}
    if not all(p.is_file() for pair in paths.values() for p in pair):
        say(f"Writing demo data (seeded) to {folder} ...")
        datasets.write_files(folder)
    added = []
    for model in datasets.MODELS:
        with ctx.store.read() as conn:
            if records.find(conn, model.name) is not None:
                continue
        principal = sessions.operator_session(ctx, model.owner)
        try:
            training, production = paths[model.name]
            if model.restricted:
                say(f"Registering {model.name} (restricted: executing the client notebook on its data) ...")
                _restricted(ctx, principal, model, training, production)
            else:
                say(f"Registering {model.name} ...")
                registration.register_model(ctx, principal, _spec(model, training, production))
            scheduled_pulls.set_pull(ctx, principal, model.name, DEMO_CADENCE)
            added.append(model.name)
        finally:
            sessions.logout(ctx, principal)
    _warehouse(ctx, folder, paths, say)
    usage = demo_usage.install(ctx, paths)  # idempotent: a re-run stores nothing new
    if any(usage.values()):
        say(f"Demo usage records: {', '.join(f'{n} {c}' for n, c in usage.items() if c)}.")
    _cost_rates(ctx, say)
    if added:
        from vision_widgets.services import notification_runs

        found = notification_runs.run_rules(ctx)
        say(f"Notification rules run once: {found.stored} new notification(s).")
    return added


#: Plausible cost rates for the demo platforms (currency, per 1,000 predictions, per compute hour), from
#: before the demo data starts; ``DEMO_RATE_CHANGES`` are raised from the middle of the production weeks,
#: so the Business Metrics page's cost shows a rate's history at work. AWS is billed in dollars, the rest
#: in euros: costs in two currencies are shown apart, never added.
DEMO_RATES = {
    "Databricks": ("EUR", 0.40, 3.20),
    "AWS SageMaker": ("USD", 0.35, 2.90),
    "Azure ML": ("EUR", 0.30, 2.70),
    "on-premises": ("EUR", 0.05, 0.90),
}
DEMO_RATES_FROM = datasets.TRAIN_START.date()
DEMO_RATE_CHANGE_FROM = (datasets.PROD_START + pd.Timedelta(weeks=datasets.PROD_WEEKS // 2)).date()
DEMO_RATE_CHANGES = {"Databricks": ("EUR", 0.48, 3.60), "AWS SageMaker": ("USD", 0.35, 3.40)}


def _cost_rates(ctx: Context, say: Callable[[str], None]) -> None:
    """The demo platforms' cost rates with one change mid-way (once: nothing if any rate exists)."""
    me = operator("demo")
    if cost_rates.list_rates(ctx, me):
        return
    say("Setting demo cost rates ...")
    for platform, (currency, per_1k, per_hour) in DEMO_RATES.items():
        cost_rates.set_rate(ctx, me, platform, currency, per_1k, per_hour, DEMO_RATES_FROM)
    for platform, (currency, per_1k, per_hour) in DEMO_RATE_CHANGES.items():
        cost_rates.set_rate(ctx, me, platform, currency, per_1k, per_hour, DEMO_RATE_CHANGE_FROM)


def table_name(path: Path) -> str:
    """A demo file's table in the warehouse: its file name without ``.csv`` (``fraud_detection_training``)."""
    return path.stem


def _warehouse(ctx: Context, folder: Path, paths: dict[str, tuple[Path, Path]], say: Callable[[str], None]) -> None:
    """The open demo models' tables in ``warehouse.db`` and the ``demo-warehouse`` connector over it (once)."""
    me = operator("demo")
    if any(c.name == DEMO_CONNECTOR for c in stored_connectors.list_connectors(ctx, me)):
        return
    db = folder / "warehouse.db"
    if not db.is_file():
        say(f"Writing the demo warehouse (SQLite) to {db} ...")
        partial = db.with_suffix(".db.partial")
        partial.unlink(missing_ok=True)
        with sqlite3.connect(partial) as con:
            for model in datasets.MODELS:
                if model.restricted:  # a restricted model's data is never on the server
                    continue
                for path in paths[model.name]:
                    for chunk in pd.read_csv(path, chunksize=50_000):
                        chunk.to_sql(table_name(path), con, index=False, if_exists="append")
        con.close()
        partial.replace(db)  # all tables or none: a failed write leaves no half-filled warehouse
    try:
        stored_connectors.add_connector(
            ctx, me, DEMO_CONNECTOR, "sql", {}, {"url": f"sqlite:///{db}"},
            description="Demo data: the open demo models' training and production tables (SQLite).")
    except ConfigurationError as exc:  # e.g. PostgreSQL without VISION_SECRET_KEY: secrets cannot be sealed
        say(f"Skipped the demo connector {DEMO_CONNECTOR}: {exc}")
        return
    try:
        result = stored_connectors.test_connector(ctx, me, DEMO_CONNECTOR)
        say(f"Connector {DEMO_CONNECTOR}: {'ok' if result.ok else 'failed'} — {result.message}")
    except VisionError as exc:
        say(f"Connector {DEMO_CONNECTOR} could not be tested: {exc}")

"""``vision init --demo``: the five personas' demo models, registered through the real paths.

Four models go through the unrestricted path (files → connector → profiles →
drift); the retail model goes through the restricted path: it is registered
as "awaiting metrics", the client notebook is executed on its data, and the
submission it writes is accepted with the model's upload token. The data is
generated (seeded) and every model is labelled demo data.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Callable

from vision_widgets.core import connectors
from vision_widgets.core.catalog import records
from vision_widgets.core.catalog.client_notebook import execute
from vision_widgets.core.config import CLIENT_NOTEBOOK
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.demo import datasets
from vision_widgets.services import registration
from vision_widgets.services import submissions


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
            added.append(model.name)
        finally:
            sessions.logout(ctx, principal)
    return added

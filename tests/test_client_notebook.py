"""notebooks/client_restricted.ipynb executed headless (core.notebooks.execute, papermill-style
parameters) on a client's files, against the real server subprocess."""
from __future__ import annotations

import json

import pytest
from helpers import USER, demo_spec, write_demo_files

from tests.support.server_process import free_port
from vision_widgets.core.catalog.client_notebook import execute
from vision_widgets.core.catalog.submissions import parse
from vision_widgets.core.identity import sessions
from vision_widgets.demo import datasets
from vision_widgets.demo.seeding import CLIENT_NOTEBOOK
from vision_widgets.services import model360
from vision_widgets.services import registration
from vision_widgets.services import submissions

FRAUD = datasets.MODELS[0]


def _output_text(nb) -> str:
    return "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", ()))


def _parameters(name, train, prod, out, server_url, token) -> dict:
    return {
        "SERVER_URL": server_url, "UPLOAD_TOKEN": token, "MODEL_NAME": name,
        "TRAINING_DATA": str(train), "PRODUCTION_DATA": str(prod), "TARGET": FRAUD.target,
        "PREDICTION": FRAUD.prediction, "TIMESTAMP": FRAUD.timestamp, "EXCLUDE": list(FRAUD.exclude),
        "LABEL": "first weeks", "OUTPUT_FILE": str(out), "SEND": True,
    }


@pytest.fixture
def client_files(tmp_path):
    """The data on the client's machine: anywhere (the server never reads it)."""
    return write_demo_files(tmp_path / "client-machine")


def test_the_notebook_sends_profiles_and_the_model_becomes_active(real_server, real_ctx, client_files, tmp_path):
    name = "Notebook model"
    owner = sessions.operator_session(real_ctx, USER)
    reg = registration.register_model(real_ctx, owner, demo_spec(name, restricted=True))
    out = tmp_path / "submission.json"
    nb = execute(CLIENT_NOTEBOOK, _parameters(name, *client_files, out, real_server.base_url, reg.upload_token),
                 cwd=tmp_path)

    text = _output_text(nb)
    assert "Accepted by the server" in text, text
    # the privacy report showed exactly what leaves the machine
    assert "It contains no individual row" in text and "Excluded columns, not read into the profile at all: record_id" in text
    data = model360.model_360(real_ctx, owner, name)
    assert data.model.status == "active"
    assert [p.label for p in data.history] == ["first weeks"]
    assert data.reference.rows == sum(1 for _ in open(client_files[0])) - 1
    # the file is written too, and holds profiles only: the excluded id column was never profiled
    sent = json.loads(out.read_text())
    assert sent["model"] == name and "record_id" not in sent["reference"]["columns"]
    assert reg.upload_token not in out.read_text()


def test_an_unreachable_server_still_leaves_the_file_to_upload(client_files, tmp_path, ctx, login,
                                                               register_restricted):
    name = "Offline model"
    reg = register_restricted(name)
    out = tmp_path / "vision_submission.json"
    nowhere = f"http://127.0.0.1:{free_port()}"
    nb = execute(CLIENT_NOTEBOOK, _parameters(name, *client_files, out, nowhere, reg.upload_token), cwd=tmp_path)

    text = _output_text(nb)
    assert f"Could not reach {nowhere}" in text
    assert "Upload the written JSON file on the model's page" in text
    assert out.is_file()
    sub = parse(out.read_bytes())
    assert sub.model == name and sub.reference is not None and sub.label == "first weeks"
    # ...and that file is what the owner uploads on the model's page
    assert submissions.submit_file(ctx, login(USER), name, out.read_bytes()).model.status == "active"

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


def test_the_notebook_profiles_production_data_that_has_no_labels_yet(client_files, tmp_path, ctx, login,
                                                                     register_restricted):
    """Production data without the target column: profiled label-free, accepted, estimates instead of metrics."""
    import pandas as pd

    from vision_widgets.services import estimation

    name = "Unlabelled model"
    reg = register_restricted(name)
    train, prod = client_files
    unlabelled = tmp_path / "production_without_labels.csv"
    pd.read_csv(prod).drop(columns=[FRAUD.target]).to_csv(unlabelled, index=False)
    out = tmp_path / "vision_submission.json"
    nowhere = f"http://127.0.0.1:{free_port()}"
    nb = execute(CLIENT_NOTEBOOK, _parameters(name, train, unlabelled, out, nowhere, reg.upload_token), cwd=tmp_path)
    assert out.is_file(), _output_text(nb)
    sub = parse(out.read_bytes())
    assert sub.production.model.target is None and sub.production.model.score_hist == {}
    assert sub.reference.model.target is not None
    assert submissions.submit_file(ctx, login(USER), name, out.read_bytes()).stored_as == "production"
    perf = estimation.performance_over_time(ctx, login(USER), name)
    assert perf.reason == "" and all(v is None for v in perf.realised["roc_auc"])
    # estimates where the privacy guard's score bins allow them (this small sample: not every window)
    assert any(v is not None for m in perf.metrics for v in perf.estimated[m])


# -- the notebook downloaded from a model's page, pre-filled ----------------------------------------
import ast  # noqa: E402
import base64  # noqa: E402
import re  # noqa: E402

import nbformat  # noqa: E402
from helpers import ADMIN, OTHER_USER, signed_in_state, synced_text  # noqa: E402

from vision_widgets.core import config  # noqa: E402
from vision_widgets.core.catalog.client_notebook import prefill  # noqa: E402
from vision_widgets.core.errors import ConfigurationError, InvalidInput, PermissionDenied  # noqa: E402
from vision_widgets.services import client_download  # noqa: E402


def _assigned(nb) -> dict:
    """What the parameters cell assigns, read as Python would."""
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse(cell.source).body}


def _notebook(content: bytes):
    return nbformat.reads(content.decode("utf-8"), as_version=4)


def test_prefill_replaces_the_defaults_in_place_and_keeps_the_comments():
    nb = nbformat.read(str(CLIENT_NOTEBOOK), as_version=4)
    odd = 'a "quoted" # model — ünïcode'
    out = prefill(nb, {"MODEL_NAME": odd, "EXCLUDE": ["id", "email"], "TARGET": None})
    values = _assigned(out)
    assert values["MODEL_NAME"] == odd and values["EXCLUDE"] == ["id", "email"] and values["TARGET"] is None
    assert values["SERVER_URL"] == "http://127.0.0.1:8866"  # untouched defaults stay
    cell = next(c for c in out.cells if "parameters" in c.metadata.get("tags", []))
    assert "# the model's name as registered" in cell.source and "# columns never profiled" in cell.source
    assert len(out.cells) == len(nb.cells)  # filled in, not a cell added
    with pytest.raises(InvalidInput, match="does not set NOT_A_PARAMETER"):
        prefill(nb, {"NOT_A_PARAMETER": 1})


def test_the_downloaded_notebook_holds_the_address_the_model_and_its_roles_but_no_token(ctx, login,
                                                                                     register_restricted):
    reg = register_restricted("Card fraud (EU)")
    built = client_download.client_notebook(ctx, login(USER), "Card fraud (EU)", "https://vision.example.com")
    assert built.filename == "vision_client_card_fraud_eu.ipynb" and built.token_expires is None
    values = _assigned(_notebook(built.content))
    assert values["SERVER_URL"] == "https://vision.example.com"
    assert values["MODEL_NAME"] == "Card fraud (EU)"
    assert (values["TARGET"], values["PREDICTION"], values["TIMESTAMP"]) == (FRAUD.target, FRAUD.prediction,
                                                                             FRAUD.timestamp)
    assert values["EXCLUDE"] == list(FRAUD.exclude) and values["FEATURES"] is None
    assert values["TASK"] == "classification"
    assert values["UPLOAD_TOKEN"] == ""
    # the token issued at registration is still the live one: a download without a token revokes nothing
    submissions.upload_target(ctx, reg.upload_token, "Card fraud (EU)")


def test_a_token_is_issued_and_written_only_when_asked_and_only_for_who_may_manage(ctx, login,
                                                                                register_restricted):
    old = register_restricted("Token model").upload_token
    built = client_download.client_notebook(ctx, login(USER), "Token model", "http://h:1", include_token=True)
    token = _assigned(_notebook(built.content))["UPLOAD_TOKEN"]
    assert len(token) >= 40 and built.token_expires is not None
    assert token not in repr(built)
    submissions.upload_target(ctx, token, "Token model")  # live, for this model
    with pytest.raises(Exception):
        submissions.upload_target(ctx, old, "Token model")  # one live token per model
    with pytest.raises(PermissionDenied):  # someone else's model: not even without a token
        client_download.client_notebook(ctx, login(OTHER_USER), "Token model", "http://h:1")
    # an admin may, and the audit log says who issued it
    client_download.client_notebook(ctx, login(ADMIN), "Token model", "http://h:1", include_token=True)


def test_the_downloaded_notebook_runs_unchanged_with_only_the_data_paths_set(ctx, login, register_restricted,
                                                                           client_files, tmp_path):
    register_restricted("Prefilled model")
    built = client_download.client_notebook(ctx, login(USER), "Prefilled model", f"http://127.0.0.1:{free_port()}",
                                            include_token=True)
    path = tmp_path / built.filename
    path.write_bytes(built.content)
    out = tmp_path / "vision_submission.json"
    nb = execute(path, {"TRAINING_DATA": str(client_files[0]), "PRODUCTION_DATA": str(client_files[1]),
                        "OUTPUT_FILE": str(out), "LABEL": "week 1"}, cwd=tmp_path)
    assert "Could not reach" in _output_text(nb)  # it tried the pre-filled address with the pre-filled token
    sub = parse(out.read_bytes())
    assert sub.model == "Prefilled model" and "record_id" not in sub.reference.columns
    assert submissions.submit_file(ctx, login(USER), "Prefilled model", out.read_bytes()).model.status == "active"


@pytest.mark.parametrize("env, expected", [
    ({"VOILA_REQUEST_URL": "https://vision.example.com:8443/voila/render/x?y=1"}, "https://vision.example.com:8443"),
    ({"SERVER_NAME": "vision.internal", "SERVER_PORT": "8866"}, "http://vision.internal:8866"),
    ({"SERVER_NAME": "vision.example.com", "SERVER_PORT": "443", "HTTP_X_FORWARDED_PROTO": "https"},
     "https://vision.example.com"),
    ({"SERVER_NAME": "::1", "SERVER_PORT": "8866"}, "http://[::1]:8866"),
    # a pooled kernel: its VOILA_REQUEST_URL is the page that was served while it was started
    ({"VOILA_PREHEAT": "True", "VOILA_REQUEST_URL": "http://127.0.0.1:8866/", "SERVER_NAME": "localhost",
      "SERVER_PORT": "8866"}, "http://localhost:8866"),
    ({}, ""),
])
def test_the_browser_address_comes_from_voilas_request_info(env, expected):
    assert config.browser_address(env) == expected


def test_vision_public_url_wins_over_the_browser_address_and_is_checked():
    env = {"VISION_HOME": "/tmp/x", "VISION_PUBLIC_URL": "https://vision.example.com/"}
    settings = config.load_settings(env)
    assert config.public_url(settings, {"SERVER_NAME": "other", "SERVER_PORT": "1"}) == "https://vision.example.com"
    plain = config.load_settings({"VISION_HOME": "/tmp/x"})
    assert config.public_url(plain, {"SERVER_NAME": "seen", "SERVER_PORT": "80"}) == "http://seen"
    assert config.public_url(plain, {}) == "http://127.0.0.1:8866"  # the bind address, the last resort
    with pytest.raises(ConfigurationError, match="VISION_PUBLIC_URL"):
        config.load_settings({"VISION_HOME": "/tmp/x", "VISION_PUBLIC_URL": "vision.example.com"})


def _link_notebook(html: str):
    data = re.search(r'base64,([^"]+)"', html).group(1)
    return nbformat.reads(base64.b64decode(data).decode("utf-8"), as_version=4)


def test_the_model_page_offers_the_prefilled_notebook_and_a_token_only_on_request(ctx, login, register_restricted,
                                                                                 monkeypatch):
    from vision_widgets.views import client_download as download_view
    from vision_widgets.views.base import close_tree
    from vision_widgets.views.model360 import Model360View

    monkeypatch.setenv("SERVER_NAME", "vision.seen-by-the-browser")
    monkeypatch.setenv("SERVER_PORT", "8866")
    register_restricted("Page model")
    view = Model360View(ctx, signed_in_state(login(USER)))
    try:
        view.show("Page model")
        downloads = next(w for w in _walk(view) if isinstance(w, download_view.ClientDownloads))
        values = _assigned(_link_notebook(downloads.notebook_link.value))
        assert values["MODEL_NAME"] == "Page model" and values["UPLOAD_TOKEN"] == ""
        assert values["SERVER_URL"] == "http://vision.seen-by-the-browser:8866"
        assert "it sends to http://vision.seen-by-the-browser:8866" in downloads.where.text

        # the browser can click the hidden "prepare" button: without the box ticked it issues nothing
        downloads.prepare.click()
        assert downloads.status.kind == "error" and downloads.token_link.value == ""
        downloads.include_token.value = True
        assert downloads.prepare.layout.display == "flex"
        downloads.prepare.click()
        token = _assigned(_link_notebook(downloads.token_link.value))["UPLOAD_TOKEN"]
        submissions.upload_target(ctx, token, "Page model")
        assert downloads.token_box.layout.display == "flex" and "valid until" in downloads.token_note.text
        downloads.saved.click()  # "I have saved it": the link, and with it the token, is gone
        assert downloads.token_link.value == "" and downloads.token_box.layout.display == "none"
        assert token not in synced_text() and base64.b64encode(token.encode()).decode()[:20] not in synced_text()
    finally:
        close_tree(view)


def test_the_token_link_removes_itself(ctx, login, register_restricted, monkeypatch):
    from vision_widgets.views import client_download as download_view
    from vision_widgets.views.base import close_tree
    from vision_widgets.views.model360 import Model360View

    monkeypatch.setattr(download_view, "TOKEN_LINK_SECONDS", 0.05)
    register_restricted("Timer model")
    view = Model360View(ctx, signed_in_state(login(USER)))
    try:
        view.show("Timer model")
        downloads = next(w for w in _walk(view) if isinstance(w, download_view.ClientDownloads))
        downloads.include_token.value = True
        downloads.prepare.click()
        assert downloads.token_link.value
        downloads._timer.join(5)
        assert downloads.token_link.value == "" and downloads.token_box.layout.display == "none"
    finally:
        close_tree(view)


def _walk(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _walk(child)

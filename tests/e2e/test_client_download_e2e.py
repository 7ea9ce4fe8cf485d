"""The client notebook downloaded in Chromium: pre-filled with the address this browser used (here
``localhost``, not the ``127.0.0.1`` the server binds), the model's name and its column roles; with a
new upload token only when asked, and that link gone once the person says the file is saved."""
from __future__ import annotations

import ast
import json
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.services import submissions

from .conftest import LOGIN_USERNAME, PAGE_TIMEOUT_MS

pytestmark = pytest.mark.e2e


def _parameters(path: str) -> dict:
    nb = json.loads(Path(path).read_text(encoding="utf-8"))
    cell = next(c for c in nb["cells"] if "parameters" in c["metadata"].get("tags", []))
    return {n.targets[0].id: ast.literal_eval(n.value) for n in ast.parse("".join(cell["source"])).body}


def test_register_restricted_then_download_the_prefilled_notebook(page, live_server):
    port = urlsplit(live_server.base_url).port
    here = f"http://localhost:{port}"
    page.goto(f"{here}/", wait_until="commit")
    page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)
    page.get_by_placeholder("Username").fill("datascientist_user")
    page.get_by_placeholder("Password").fill("ds_user123")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Register model").first.click()

    page.get_by_label("Name", exact=True).fill("Downloaded in Chromium")
    page.get_by_label("Restricted data").check()
    page.get_by_text("Nothing is read on this server").wait_for()
    assert not page.get_by_label("Training data").is_visible() and not page.get_by_label("Connector").is_visible()
    page.get_by_label("Target").fill("is_fraud")
    page.get_by_label("Prediction").fill("fraud_score")
    page.get_by_label("Excluded").fill("record_id, email")
    page.get_by_role("button", name="Register model").last.click()
    page.get_by_text("Downloaded in Chromium is registered and awaiting metrics.").wait_for()

    link = page.get_by_role("link", name="Download the client notebook")
    with page.expect_download() as download:
        link.click()
    assert download.value.suggested_filename == "vision_client_downloaded_in_chromium.ipynb"
    values = _parameters(download.value.path())
    assert values["SERVER_URL"] == here  # the address this browser used
    assert values["MODEL_NAME"] == "Downloaded in Chromium"
    assert (values["TARGET"], values["PREDICTION"], values["EXCLUDE"]) == ("is_fraud", "fraud_score",
                                                                         ["record_id", "email"])
    assert values["UPLOAD_TOKEN"] == ""  # the token is shown on the page, not put in the file unasked


def test_a_token_only_on_request_and_its_link_removed_when_saved(page, live_server):
    # the model page of a restricted model: Model 360 opens the user's model first
    ctx = Context.open(load_settings(live_server.env))
    try:
        page.goto(live_server.base_url, wait_until="commit")
        page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)
        page.get_by_placeholder("Username").fill("datascientist_user")
        page.get_by_placeholder("Password").fill("ds_user123")
        page.get_by_role("button", name="Log in").click()
        page.get_by_role("button", name="Register model").first.click()
        page.get_by_label("Name", exact=True).fill("Token on request")
        page.get_by_label("Restricted data").check()
        page.get_by_label("Target").fill("is_fraud")
        page.get_by_role("button", name="Register model").last.click()
        page.get_by_text("Token on request is registered and awaiting metrics.").wait_for()
        page.get_by_role("button", name="Open in Model 360").click()
        page.get_by_label("Include a new upload token").check()
        page.get_by_role("button", name="Prepare notebook with token").click()
        link = page.get_by_role("link", name="Download the notebook with its token")
        with page.expect_download() as download:
            link.click()
        token = _parameters(download.value.path())["UPLOAD_TOKEN"]
        submissions.upload_target(ctx, token, "Token on request")  # live, for this model
        note = page.get_by_text("This notebook holds a new upload token")
        assert "when you click" in note.inner_text()  # the whole sentence, wrapped, not cut
        page.get_by_role("button", name="I have saved it").click()
        link.wait_for(state="detached")
        assert token not in page.content()
    finally:
        ctx.store.dispose()

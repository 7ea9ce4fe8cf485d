"""End to end: an operator issues an API key with the real CLI, it sends usage to the real server, and an
admin revokes it on the Access page in Chromium — after which the server refuses it."""
from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from urllib.parse import quote

import pytest

from tests.support.server_process import REPO_ROOT, server_env
from tests.support.shell_pages import (
    ADMIN,
    USER,
    clipped_text,
    log_in,
    nav_titles,
    open_page,
)

pytestmark = pytest.mark.e2e

MODEL = "E2E usage model"


def post_usage(base_url: str, key: str, day: int) -> tuple[int, dict]:
    body = json.dumps({"timestamp": f"2026-09-{day:02d}T00:00:00Z", "predictions": 1000 + day,
                       "compute_hours": 2.5}).encode()
    req = urllib.request.Request(f"{base_url}vision/api/models/{quote(MODEL, safe='')}/usage", data=body,
                                 method="POST", headers={"Content-Type": "application/x-ndjson",
                                                         "Authorization": f"Bearer {key}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture(scope="module")
def issued_key(live_server) -> str:
    """A restricted model registered on the live server's database, and a key from `vision api-keys issue`."""
    from helpers import demo_spec

    from vision_widgets.core.config import load_settings
    from vision_widgets.core.context import Context
    from vision_widgets.core.identity import sessions
    from vision_widgets.services import registration

    ctx = Context.open(load_settings({"VISION_HOME": str(live_server.home)}))
    try:
        registration.register_model(ctx, sessions.operator_session(ctx, USER[0]), demo_spec(MODEL, restricted=True))
    finally:
        ctx.store.dispose()
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "api-keys", "issue", "e2e-pipeline"],
                          cwd=REPO_ROOT, env=server_env(live_server.home), capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_an_admin_sees_the_key_and_revokes_it_and_the_server_then_refuses_it(page, open_dashboard, server,
                                                                              issued_key):
    status, answer = post_usage(server, issued_key, 1)
    assert status == 201 and answer["stored"] == 1, answer

    open_dashboard(page)
    log_in(page, *ADMIN)
    open_page(page, "Access management")
    keys = page.locator(".vision-card", has=page.get_by_text("API keys", exact=True))
    keys.locator(".vision-table td", has_text="e2e-pipeline").wait_for()
    assert keys.locator(".vision-table td", has_text="active").count() == 1
    assert issued_key not in page.content()  # the page never holds the key
    assert clipped_text(page) == []  # the key's row, the note and the "Active key" field are shown whole
    page.get_by_label("Active key").select_option(label="e2e-pipeline (id 1)")
    page.get_by_role("button", name="Revoke…").click()
    page.get_by_text("Revoke e2e-pipeline (id 1)? Pipelines using it are refused from now on.").wait_for()
    page.get_by_role("button", name="Confirm revocation").click()
    page.get_by_text("API key e2e-pipeline (id 1) is revoked.").wait_for()
    keys.locator(".vision-table td", has_text="revoked").wait_for()

    status, answer = post_usage(server, issued_key, 2)
    assert status == 401 and "revoked" in answer["message"], answer


def test_a_user_has_no_access_page_and_so_no_api_keys(page, open_dashboard):
    open_dashboard(page)
    log_in(page, *USER)
    assert "Access management" not in nav_titles(page)

"""The exported drift report opens in Chromium with the network cut off, makes no request of its own, and
shows the same verdict as the JSON export; the tables and charts are drawn (inline SVG)."""
from __future__ import annotations

import json
import os
from pathlib import Path

from helpers import ADMIN, USER, demo_spec, write_demo_files

from vision_widgets.services import drift_report, drift_settings, registration
from vision_widgets.worker import Runner

MODEL = "Card fraud"


def _open_offline(browser, path: Path, shot: str):
    """Open ``path`` in a fresh offline context whose every non-file request is refused; returns (page, requests)."""
    context = browser.new_context(offline=True, viewport={"width": 1100, "height": 900})
    requests: list[str] = []
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file://")
                  else route.abort())
    page = context.new_page()
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    folder = os.environ.get("VISION_SCREENSHOT_DIR")
    if folder:
        page.screenshot(path=str(Path(folder) / shot), full_page=True)
    return context, page, requests


def test_the_exported_report_opens_offline_with_no_request_and_the_same_verdict(ctx, login, settings, browser,
                                                                                tmp_path):
    files = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec(MODEL, *files))
    for who, shot in ((USER, "drift-report-user.png"), (ADMIN, "drift-report-admin.png")):
        me = login(who)
        if who == ADMIN:  # an admin changes the dataset threshold: the report's verdict follows
            job = drift_settings.save_settings(ctx, me, MODEL, {"drift_share": 0.05})
            Runner(ctx, "w1").run(job.id)
        path = tmp_path / f"{who}.html"
        path.write_bytes(drift_report.export_html(ctx, me, MODEL))
        verdict = json.loads(drift_report.export_json(ctx, me, MODEL))["verdict"]["text"]
        context, page, requests = _open_offline(browser, path, shot)
        try:
            status = page.get_by_role("status")
            assert status.inner_text() == verdict
            assert page.get_by_role("heading", name=f"Drift report: {MODEL}").is_visible()
            assert page.get_by_role("table", name="Drift per feature").locator("tbody tr").count() == 6
            assert page.get_by_role("img", name="Share of drifted features per window").is_visible()
            assert requests == [path.as_uri()], requests
        finally:
            context.close()
    assert verdict.startswith("Dataset drift:") and verdict.endswith("dataset drift needs 5%")

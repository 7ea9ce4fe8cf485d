"""notebooks/explore.ipynb opened in a real JupyterLab (loopback, headless Chromium): it renders,
and run as a person runs it — Run All, type the user name and password into the prompts — it logs
in and shows the models table, the Model 360 widget and the charts, with no error in any output.

JupyterLab is started for this test only, on 127.0.0.1 with a random token, over a temporary
copy of the notebook and a database holding one model; it is stopped afterwards.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from helpers import PASSWORDS, REPO_ROOT, USER, demo_spec, write_demo_files

from playwright.sync_api import expect

from tests.e2e.conftest import PAGE_TIMEOUT_MS, free_port
from tests.support.server_process import stop_process
from vision_widgets.services import registration

pytestmark = pytest.mark.e2e


@pytest.fixture
def lab(ctx, login, tmp_path):
    """``(url, token)`` of a JupyterLab serving a copy of explore.ipynb over a database with one model."""
    train, prod = write_demo_files(ctx.settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud in Lab", train, prod))
    root = tmp_path / "lab-root"
    root.mkdir()
    shutil.copyfile(REPO_ROOT / "notebooks" / "explore.ipynb", root / "explore.ipynb")
    port, token = free_port(), secrets.token_hex(16)
    settings = tmp_path / "lab-settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')  # no news pop-up
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(tmp_path / "lab-settings"), "VISION_HOME": str(ctx.settings.home), "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTER_CONFIG_DIR": str(tmp_path / "config"), "IPYTHONDIR": str(tmp_path / "ipython"),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("VISION_DATABASE_URL", None)
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.news_url=None",
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate", "--ServerApp.terminals_enabled=False",
         *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else [])],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2).read()  # noqa: S310
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"JupyterLab did not start: {(tmp_path / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.3)
        yield url, token
    finally:
        stop_process(proc)
        log.close()


def test_explore_opens_in_jupyterlab_and_runs_after_a_login_typed_into_its_prompts(lab, browser, tmp_path):
    url, token = lab
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        page.goto(f"{url}/lab/tree/explore.ipynb?token={token}")
        notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
        notebook.get_by_role("heading", name="Vision AI — explore in JupyterLab").wait_for()
        # JupyterLab attaches cells to the page in batches after the first ones: wait for all five
        expect(notebook.locator(".jp-Cell")).to_have_count(5)
        page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for()

        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        prompt = page.locator(".jp-Stdin-input")
        prompt.wait_for()
        prompt.fill(USER)
        prompt.press("Enter")
        page.locator(".jp-Stdin-input[type='password']").wait_for()
        page.locator(".jp-Stdin-input[type='password']").fill(PASSWORDS[USER])
        page.locator(".jp-Stdin-input[type='password']").press("Enter")

        # the models DataFrame, the Model 360 widget, the two charts and the features table
        notebook.locator(".jp-RenderedHTMLCommon table").first.get_by_text("Fraud in Lab").wait_for()
        notebook.locator(".widget-label", has_text="Fraud in Lab").first.wait_for()
        last = notebook.locator(".jp-Cell").last
        last.locator(".bqplot").nth(1).wait_for()  # the drift chart and the distribution chart
        last.locator(".jp-OutputArea-output table").wait_for()  # model.to_df()
        assert notebook.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count() == 0
        assert notebook.get_by_text("Traceback").count() == 0
        assert PASSWORDS[USER] not in notebook.inner_text()
        # VISION_SCREENSHOT_DIR=docs/screenshots to refresh the committed ones
        shots = Path(os.environ.get("VISION_SCREENSHOT_DIR") or tmp_path)
        page.screenshot(path=str(shots / "explore-jupyterlab.png"))
        last.scroll_into_view_if_needed()
        last.screenshot(path=str(shots / "explore-jupyterlab-charts.png"))
        assert not errors, errors
    finally:
        context.close()

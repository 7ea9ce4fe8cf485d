"""``vision_widgets.connect()``: logging in from a notebook through the web app's own services,
and notebooks/explore.ipynb run by nbval with a scripted login (a kernel startup file answers the
user-name and password prompts, so the shipped notebook runs exactly as a person runs it)."""
from __future__ import annotations

import getpass
import os
import shutil
import subprocess
import sys
import textwrap

import ipywidgets as w
import pandas as pd
import pytest
from helpers import ADMIN, OTHER_USER, PASSWORDS, REPO_ROOT, USER, demo_spec, write_demo_files

import vision_widgets
from vision_widgets.core.errors import AccountLocked, AuthenticationError, PermissionDenied, SessionExpired
from vision_widgets.services import registration

EXPLORE = REPO_ROOT / "notebooks" / "explore.ipynb"


@pytest.fixture
def answers(monkeypatch):
    """Answer the prompts as a person would: ``answers(user, password)``; returns what was asked."""
    asked: list[str] = []

    def _set(username: str, password: str):
        monkeypatch.setattr("builtins.input", lambda prompt="": asked.append(prompt) or username)
        monkeypatch.setattr(getpass, "getpass", lambda prompt="": asked.append(prompt) or password)
        return asked

    return _set


@pytest.fixture
def fraud_model(ctx, login):
    """An open model with training and production data, owned by USER."""
    train, prod = write_demo_files(ctx.settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud explorer", train, prod))
    return "Fraud explorer"


def test_connect_asks_the_password_and_acts_with_the_persons_permissions(ctx, answers, fraud_model):
    asked = answers(USER, PASSWORDS[USER])
    session = vision_widgets.connect(ctx=ctx)
    assert asked == ["Vision AI user name: ", f"Password for {USER}: "]
    assert session.username == USER and USER in repr(session) and PASSWORDS[USER] not in repr(vars(session))
    models = session.models()
    assert isinstance(models, pd.DataFrame) and list(models["name"]) == [fraud_model]
    assert models.loc[0, "owner"] == USER and models.loc[0, "status"] == "active"

    answers(OTHER_USER, PASSWORDS[OTHER_USER])
    other = vision_widgets.connect(ctx=ctx)
    assert other.models().empty  # not theirs
    with pytest.raises(PermissionDenied):
        other.model(fraud_model)
    answers(ADMIN, PASSWORDS[ADMIN])
    assert list(vision_widgets.connect(ctx=ctx).models()["name"]) == [fraud_model]  # admins see every model


def test_results_come_back_as_data_and_as_the_apps_widgets(ctx, answers, fraud_model):
    answers(USER, PASSWORDS[USER])
    model = vision_widgets.connect(USER, ctx=ctx).model(fraud_model)
    features = model.to_df()
    assert set(features["feature"]) >= {"amount", "merchant_category"} and "record_id" not in set(features["feature"])
    assert features["drifted"].isin([True, False]).all()
    assert model.drift.to_df().shape[0] == features.shape[0]
    assert list(model.history_df().columns) == ["at", "label", "rows", "drift_share", "dataset_drift"]
    coefficients = model.coefficients_df()
    assert not coefficients.empty and (coefficients["ci_low"] <= coefficients["ci_high"]).all()
    shares = model.distribution_df("amount")
    assert shares["training"].sum() == pytest.approx(1.0) and shares["production"].sum() == pytest.approx(1.0)

    page = model.view()
    assert isinstance(page, w.Widget) and page.page.heading.value == fraud_model
    assert isinstance(model.drift_chart(), w.DOMWidget)
    chart = model.distribution_chart("amount")
    assert "amount" in chart.title
    with pytest.raises(Exception, match="has no feature 'nope'"):
        model.distribution_chart("nope")


def test_the_same_lockout_and_session_end_as_in_the_browser(ctx, answers, clock, fraud_model):
    answers(USER, "wrong password")
    for _ in range(ctx.settings.lockout_threshold - 1):
        with pytest.raises(AuthenticationError):
            vision_widgets.connect(ctx=ctx)
    with pytest.raises(AccountLocked, match="locked"):
        vision_widgets.connect(ctx=ctx)
    answers(USER, PASSWORDS[USER])
    with pytest.raises(AccountLocked):  # the right password does not get past the lock either
        vision_widgets.connect(ctx=ctx)

    clock.advance(seconds=ctx.settings.lockout_seconds + 1)
    session = vision_widgets.connect(ctx=ctx)
    session.models()
    clock.advance(seconds=ctx.settings.token_ttl_seconds + 1)  # idle past the session's time to live
    with pytest.raises(SessionExpired):
        session.models()
    session = vision_widgets.connect(ctx=ctx)
    session.logout()
    with pytest.raises(SessionExpired):
        session.model(fraud_model)


# -- notebooks/explore.ipynb, run by nbval ---------------------------------------------------------
STARTUP = '''
"""Test only: answer the notebook's login prompts (ipykernel forwards input()/getpass to these)."""
from ipykernel.ipkernel import IPythonKernel

IPythonKernel.raw_input = lambda self, prompt="": {username!r}
IPythonKernel.getpass = lambda self, prompt="", stream=None: {password!r}
'''


def test_the_explore_notebook_runs_with_nbval(ctx, fraud_model, tmp_path):
    """The shipped notebook, unchanged, in a fresh kernel over this database: every cell runs."""
    ipython = tmp_path / "ipython"
    startup = ipython / "profile_default" / "startup"
    startup.mkdir(parents=True)
    (startup / "00-scripted-login.py").write_text(STARTUP.format(username=USER, password=PASSWORDS[USER]))
    work = tmp_path / "run"
    work.mkdir()
    shutil.copyfile(EXPLORE, work / EXPLORE.name)  # outside the checkout: its conftest sets an empty VISION_HOME
    (work / "pytest.ini").write_text("[pytest]\n")
    env = {**os.environ, "VISION_HOME": str(ctx.settings.home), "IPYTHONDIR": str(ipython),
           "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")])}
    env.pop("VISION_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax", "--confcutdir", str(work),
         "--rootdir", str(work), "-c", str(work / "pytest.ini"), str(work / EXPLORE.name)],
        cwd=work, env=env, capture_output=True, text=True, timeout=240,
    )
    assert done.returncode == 0, textwrap.shorten(done.stdout + done.stderr, 4000)
    assert "5 passed" in done.stdout or "4 passed" in done.stdout, done.stdout

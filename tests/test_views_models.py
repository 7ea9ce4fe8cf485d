"""Register model and Model 360 pages driven headlessly through the app (type, click, read traits)."""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest
from helpers import (
    ADMIN,
    OTHER_USER,
    USER,
    XSS_NAME,
    demo_frames,
    demo_spec,
    log_in_through_the_form,
    model_rows,
    synced_text,
    write_demo_files,
)
from sqlalchemy import select

from vision_widgets.app import VisionApp
from vision_widgets.core.identity import sessions
from vision_widgets.core.jobs import lease
from vision_widgets.core.storage import schema
from vision_widgets.services import catalog
from vision_widgets.services import model360
from vision_widgets.services import registration
from vision_widgets.views.model360 import Model360View
from vision_widgets.views.model_actions import ModelActions
from vision_widgets.views.base import close_tree
from vision_widgets.views.register import RegisterView
from vision_widgets.worker import Runner


@pytest.fixture
def files(settings):
    return write_demo_files(settings.home / "data")


def click_row(view, name):
    """Click the list's row for model ``name`` as the browser does: the grid's cell-click message."""
    row = view.names.index(name)
    view.list_table.grid._handle_custom_msg({
        "event_type": "cell-click", "region": "body", "column": "Model", "column_index": 0, "row": row,
        "primary_key_row": row, "cell_value": name}, [])


def _actions(view):
    """Open the folded "Manage this model" section, as an owner does, and return its actions."""
    view.actions.selected_index = 0
    view.wait()  # its connector is listed in the background
    return view.model_actions


def _open(app, username, page):
    log_in_through_the_form(app, username)
    app.open_page(page)
    return app.view


def _fill(view, name, train="", prod="", restricted=False):
    view.name.value = name
    view.description.value = "Scores card payments"
    view.task.value = "binary classification"
    view.platform.value = "Databricks"
    view.restricted.value = restricted
    view.training.value = str(train)
    view.production.value = str(prod)
    view.target.value = "is_fraud"
    view.prediction.value = "fraud_score"
    view.timestamp.value = "event_time"
    view.exclude.value = "record_id"


# -- Register -------------------------------------------------------------------------------------


def test_register_an_unrestricted_model_through_the_form(app, ctx, files):
    view = _open(app, USER, "register")
    assert isinstance(view, RegisterView)
    assert view.owner.options == ()  # a user registers for themselves: no owner to choose
    _fill(view, "Card fraud v2", *files)
    view.submit.click()
    job_id = view.watching
    assert view.status.value.startswith("Card fraud v2: queued."), view.status.value
    assert view.progress.layout.visibility == "visible"
    assert view.jobs.row(job_id).state.value == "queued"
    assert model_rows(ctx)["models"] == 0, "profiling and storing happen in the job"

    Runner(ctx, "test-worker").run(job_id)  # the worker, here in this process
    view.refresh_jobs()  # what the page's poll does every second
    assert view.status.kind == "success", view.status.value
    assert view.status.value.startswith("Card fraud v2 is registered (")
    assert view.progress.layout.visibility == "hidden" and view.progress.value == 1.0
    assert view.open_model.layout.display == "flex"
    assert model_rows(ctx) == {"models": 1, "profiles": 2, "drift_reports": 1, "upload_tokens": 0}

    assert view.jobs.row(job_id).state.value == "done"
    assert view.jobs.row(job_id).detail.value.startswith("registered — ")

    view.open_model.click()
    assert isinstance(app.view, Model360View)
    assert app.view.heading.value == "Card fraud v2"
    assert app.view.names == ("Card fraud v2",)


def test_a_registration_outlives_its_page_and_a_new_tab_shows_every_outcome(app, ctx, files):
    view = _open(app, USER, "register")
    submitted = {}
    for name, target in (("Will fail", "is_fraud_label"), ("Will run", "is_fraud"), ("Will finish", "is_fraud")):
        _fill(view, name, *files)
        view.target.value = target
        view.submit.click()
        submitted[name] = view.watching
    app.open_page("models")  # the page that submitted them is closed (so is a closed tab's kernel)
    assert view._stop_polling.is_set()

    worker = Runner(ctx, "test-worker")
    worker.run(submitted["Will fail"])
    worker.run(submitted["Will finish"])
    with ctx.store.write() as conn:  # another worker is half-way through the third
        lease.claim(conn, submitted["Will run"], "busy-worker", ctx.now(), timedelta(seconds=60))
        lease.report(conn, submitted["Will run"], "busy-worker", 0.4, "Profiling training data", ctx.now())

    tab = VisionApp(ctx)  # a new tab: a new kernel, a new login
    try:
        log_in_through_the_form(tab, USER)
        tab.open_page("register")
        rows = {name: tab.view.jobs.row(job_id) for name, job_id in submitted.items()}
        assert [r.state.value for r in rows.values()] == ["failed", "running", "done"]
        assert "is_fraud_label" in rows["Will fail"].detail.value
        assert rows["Will run"].bar.value == 0.4 and rows["Will run"].detail.value == "Profiling training data"
        assert rows["Will finish"].detail.value.startswith("registered — ")
        assert [c.title.value for c in tab.view.jobs.children] == ["Will finish", "Will run", "Will fail"]
        assert tab.view._poller is not None and tab.view._poller.is_alive(), "it follows the running job"
    finally:
        close_tree(tab)
        for widget in (tab.header, tab.nav, tab.body):
            close_tree(widget)
    assert model_rows(ctx)["models"] == 1


def test_register_a_restricted_model_shows_the_token_once(app, ctx):
    view = _open(app, USER, "register")
    _fill(view, "Secret model", restricted=True)
    assert view.paths.layout.display == "none"
    view.submit.click()
    view.wait()
    assert view.status.value == "Secret model is registered and awaiting metrics."
    token = view.token_box.token.value
    assert len(token) >= 40 and view.token_box.layout.display == "flex"
    with ctx.store.read() as conn:
        stored = conn.execute(select(schema.upload_tokens.c.token_hash)).scalar_one()
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    # the client notebook (pre-filled for this model) and client.py are offered as downloads
    # (data: links, no static folder)
    downloads = view.next_steps.children[1]
    assert 'download="vision_client_secret_model.ipynb"' in downloads.notebook_link.value
    assert 'download="client.py"' in synced_text()

    view.token_box.hide.click()
    assert view.token_box.token.value == "" and view.token_box.layout.display == "none"
    assert token not in synced_text()  # no live widget holds it any more


@pytest.mark.parametrize("train, message", [
    ("/etc/passwd", "outside the folders"),
    ("nowhere/training.csv", "No file at nowhere/training.csv"),
])
def test_register_with_a_bad_path_shows_the_message_and_stores_nothing(app, ctx, files, train, message):
    view = _open(app, USER, "register")
    _fill(view, "Broken", train, files[1])
    view.submit.click()
    view.wait()
    assert view.status.kind == "error" and message in view.status.value
    assert view.progress.layout.visibility == "hidden"
    assert view.open_model.layout.display == "none"
    assert model_rows(ctx)["models"] == 0


def test_an_admin_registers_for_another_owner(app, ctx):
    view = _open(app, ADMIN, "register")
    assert OTHER_USER in view.owner.options and view.owner.value == ADMIN
    _fill(view, "For the product team", restricted=True)
    view.owner.value = OTHER_USER
    view.submit.click()
    view.wait()
    assert view.status.kind == "success", view.status.value
    assert catalog.list_models(ctx, sessions.operator_session(ctx, OTHER_USER))[0].model.owner == OTHER_USER


# -- Model 360 ------------------------------------------------------------------------------------


@pytest.fixture
def registered(ctx, files):
    mine = sessions.operator_session(ctx, USER)
    registration.register_model(ctx, mine, demo_spec("Fraud detection", *files))
    registration.register_model(ctx, mine, demo_spec(XSS_NAME, restricted=True))
    registration.register_model(ctx, sessions.operator_session(ctx, OTHER_USER), demo_spec("Churn model", restricted=True,
                                                                           platform="AWS SageMaker"))


def test_a_users_list_has_only_their_models(app, registered):
    view = _open(app, USER, "models")
    assert isinstance(view, Model360View)
    assert set(view.names) == {"Fraud detection", XSS_NAME}
    assert "Churn model" not in view.names
    assert view.lob.options == ("(any)", "Analytics")


def test_an_admin_list_has_every_model_and_filters(app, registered):
    view = _open(app, ADMIN, "models")
    assert set(view.names) == {"Fraud detection", XSS_NAME, "Churn model"}
    view.platform.value = "AWS SageMaker"
    assert view.names == ("Churn model",)
    assert "Fraud detection" not in view.names
    view.platform.value = "(any)"
    view.search.value = "fraud"
    assert view.names == ("Fraud detection",)


def test_html_in_a_model_name_is_shown_as_text_in_the_list_and_on_the_page(app, registered):
    view = _open(app, USER, "models")
    # the list is a canvas-drawn grid: the name is data, painted as text, never HTML
    assert XSS_NAME in list(view.list_table.grid.data["Model"])
    click_row(view, XSS_NAME)
    assert view.heading.value == XSS_NAME  # a Label: text, not HTML
    assert "<img" not in view.meta.value
    assert view.kpis["drift"].figure == "awaiting data"


def test_selecting_a_model_fills_kpis_features_coefficients_and_histogram(app, registered):
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    train, prod = demo_frames()
    assert view.detail.layout.display == "flex"
    assert view.kpis["train_rows"].figure == f"{len(train):,}"
    assert view.kpis["prod_rows"].figure == f"{len(prod):,}"
    assert view.kpis["drift"].figure.endswith("of 6")
    assert view.kpis["auc"].figure not in ("–", "")
    for feature in ("amount", "merchant_category", "card_present"):
        assert f"<td>{feature}</td>" in view.features.value
    assert "<td>is_fraud</td>" not in view.features.value and "record_id" not in view.features.value
    assert f"<td>{train['amount'].mean():.3g}</td>" in view.features.value  # training mean of amount
    assert "<td>1</td>" in view.labels.value and "<td>0</td>" in view.labels.value
    # The later tabs, charts included, are built and fed when first shown (a hidden bqplot figure
    # has no width; the first view sends none of their widgets).
    assert view.built_tabs() == set() and view.built_charts() == set() and view.performance is None
    view.tabs.selected_index = 4
    assert view.built_tabs() == {4}
    # The small demo sample has a confusion cell below k: the guard withholds the matrix, the page
    # says so, and ROC AUC (from the score histograms) is still shown.
    assert "<td>ROC AUC</td>" in view.performance.value and "<td>Accuracy</td>" not in view.performance.value
    assert "withheld" in view.performance_note.value and "privacy threshold" in view.performance_note.value

    view.tabs.selected_index = 1
    assert "Robust (HC0) 95% intervals" in view.surrogate_note.value  # the demo's response is a score
    bars = view.coefficients.bars
    s = view.current.surrogate
    assert "amount" in list(bars.x) and "(intercept)" not in list(bars.x)
    assert np.all(np.diff(np.abs(np.asarray(bars.y))) <= 0), "sorted by size, the largest first"
    assert dict(zip(bars.x, bars.y)) == pytest.approx(dict(zip(s.terms, s.coefficients)))
    assert np.asarray(view.coefficients.errors.x).shape == (len(bars.x), 2)
    assert f"<td>{bars.x[0]}</td>" in view.coefficients.table.value  # the numbers beside the chart

    view.tabs.selected_index = 2
    assert view.feature_choice.options[0] == "amount"
    hist = view.histogram
    assert hist.kind == "numeric" and hist.figure.marks[0] is hist.areas["training"]
    centres = np.asarray(hist.points["training"].x)
    assert 3 < len(centres) <= 22 and np.all(np.diff(centres) > 0)  # on the value axis, ascending
    widths = np.diff(np.unique(np.asarray(hist.areas["training"].x)))
    for key in ("training", "production"):  # densities: each bin's area is its share of rows
        assert np.sum(np.asarray(hist.points[key].y) * widths) == pytest.approx(1.0, abs=0.01)
    assert hist.points["training"].names[0].startswith("< ") and "% of rows" in hist.points["training"].names[0]
    assert hist.value.min < train["amount"].quantile(0.05) and hist.value.max > train["amount"].quantile(0.95)
    view.feature_choice.value = "merchant_category"
    assert hist.kind == "categorical" and "grocery" in list(hist.bars.x)
    assert hist.figure.title.startswith("merchant_category")
    training, production = np.asarray(hist.bars.y)
    assert training.sum() == pytest.approx(1.0, abs=0.01) and production.sum() == pytest.approx(1.0, abs=0.01)
    shares = [max(a, b) for a, b in zip(training, production)]
    named = [s for s, label in zip(shares, hist.bars.x) if label != "(other)"]
    assert named == sorted(named, reverse=True), "categories sorted by share"


def test_an_owner_adds_a_production_batch(app, ctx, registered, settings):
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    actions = _actions(view)
    assert isinstance(actions, ModelActions)
    _, prod = demo_frames()
    prod.iloc[-500:].to_csv(settings.home / "data" / "late.csv", index=False)
    actions.path.value = "late.csv"  # relative to the first data root
    actions.label.value = "Late batch"
    actions.add.click()
    view.wait()
    assert view.detail_status.value == "Production data added; drift updated.", actions.status.value
    assert view.kpis["prod_rows"].figure == "500"
    view.tabs.selected_index = 3
    assert list(view.history.line.x) != ["–"]
    history = model360.model_360(ctx, sessions.operator_session(ctx, USER), "Fraud detection").history
    assert [p.label for p in history] == ["initial production data", "Late batch"]
    # the section the owner used stays open on the reloaded model (fresh actions for its new state)
    assert view.actions.selected_index == 0 and view.model_actions is not None and view.model_actions is not actions


def test_owner_actions_are_folded_and_built_only_when_opened(app, registered):
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    assert view.actions.layout.display != "none" and view.actions.selected_index is None
    assert view.model_actions is None, "nothing built while folded"
    first = _actions(view)
    assert isinstance(first, ModelActions) and first.name == "Fraud detection"
    click_row(view, XSS_NAME)  # another model (restricted, awaiting its profiles): open by itself
    assert first.comm is None, "the previous model's actions are closed"
    assert view.actions.selected_index == 0 and view.model_actions.name == XSS_NAME


def test_a_bad_batch_path_shows_the_message(app, ctx, registered):
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    actions = _actions(view)
    actions.path.value = "/etc/hosts"
    actions.add.click()
    view.wait()
    assert actions.status.kind == "error" and "outside the folders" in actions.status.value
    assert actions.progress.layout.visibility == "hidden"  # a failure does not leave the bar up
    assert model_rows(ctx)["drift_reports"] == 1


def test_delete_asks_for_confirmation(app, ctx, registered):
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    actions = _actions(view)
    actions.delete.click()
    assert actions.confirm_box.layout.display == "flex"
    assert actions.confirm_text.value == "Delete Fraud detection and everything stored for it?"
    actions.cancel.click()
    assert actions.confirm_box.layout.display == "none"
    assert "Fraud detection" in view.names

    actions.delete.click()
    actions.confirm.click()
    assert view.names == (XSS_NAME,)
    assert list(view.list_table.grid.data["Model"]) == [XSS_NAME]  # gone from the grid the user sees
    assert view.list_status.kind == "success"
    assert view.list_status.value == "Fraud detection was deleted; it is no longer in the list."
    assert model_rows(ctx) == {"models": 2, "profiles": 0, "drift_reports": 0, "upload_tokens": 2}


def test_a_restricted_model_offers_upload_and_a_new_token(app, ctx, registered, tmp_path):
    from helpers import submission_body

    view = _open(app, USER, "models")
    click_row(view, XSS_NAME)
    status = lambda: dict((r[0], r[4]) for r in view.list_table.rows)[XSS_NAME]  # noqa: E731
    assert status() != "active"  # awaiting its first profiles
    actions = _actions(view)
    actions.new_token.click()
    assert len(actions.token_box.token.value) >= 40
    actions.token_box.hide.click()
    actions.upload.value = ({"name": "s.json", "type": "application/json", "size": 1, "last_modified": datetime.now(timezone.utc),
                             "content": memoryview(submission_body(XSS_NAME))},)
    actions.submit.click()
    view.wait()  # parsed and checked in the background
    assert view.detail_status.value == "Profiles accepted; drift updated.", actions.status.value
    assert view.current.model.status == "active"
    assert status() == "active", "the list's row follows the upload in this tab"
    assert list(view.list_table.grid.data["Status"])[view.names.index(XSS_NAME)] == "active"


def test_confirm_without_asking_first_deletes_nothing(app, ctx, registered):
    """The browser can click the hidden "Confirm deletion" button directly (DESIGN.md)."""
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    _actions(view).confirm.click()
    assert "Fraud detection" in view.names and view.list_status.value == ""
    assert model_rows(ctx)["models"] == 3


def test_a_model_awaiting_metrics_shows_no_empty_charts(ctx, login):
    from vision_widgets.state import AppState
    from vision_widgets.views.model360 import Model360View

    owner = login("appowner_user")
    registration.register_model(ctx, owner, registration.ModelSpec(name="Awaiting one", task="binary classification", restricted=True))
    state = AppState()
    state.sign_in(owner)
    view = Model360View(ctx, state)
    click_row(view, "Awaiting one")
    assert view.data_sections.layout.display == "none"
    assert view.awaiting.value.startswith("Awaiting metrics")
    # no chart is built (nor fed an empty domain) while there is nothing to chart, whatever tab is asked for
    for index in (1, 2, 3):
        view.tabs.selected_index = index
    assert view.built_charts() == set()
    view.close()


def test_closing_model_360_closes_its_charts_marks_scales_and_axes(app, registered):
    view = _open(app, USER, "models")
    click_row(view, "Fraud detection")
    for index in (1, 2, 3):
        view.tabs.selected_index = index
    assert view.built_charts() == {1, 2, 3}
    parts = [view.coefficients.bars, view.coefficients.terms_scale, view.histogram.bars, view.histogram.density_axis,
             view.history.line, view.history.figure.axes[0]]
    assert all(p.comm is not None for p in parts)
    app.logout_button.click()
    assert all(p.comm is None for p in parts), "a figure's marks, scales and axes are closed with the page"

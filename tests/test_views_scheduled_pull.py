"""The "Scheduled pull" panel in a model's "Manage this model" section: an owner picks a folder with
the connector browser, saves a cadence, and queues a pull now; the state line says what is set."""
from __future__ import annotations

import pytest
from helpers import OTHER_USER, USER, demo_frames, demo_spec, log_in_through_the_form

from vision_widgets.services import registration
from vision_widgets.views.model_actions import ModelActions


@pytest.fixture(autouse=True)
def files_are_written_whole(monkeypatch):
    """Files these tests drop are complete at once: no waiting for a minimum age (tested on its own)."""
    from vision_widgets.services import scheduled_pulls as _pulls

    monkeypatch.setattr(_pulls, "MIN_FILE_AGE", 0.0)


@pytest.fixture
def model(ctx, login):
    train, prod = demo_frames()
    folder = ctx.settings.home / "data" / "fraud"
    (folder / "incoming").mkdir(parents=True)
    train.to_csv(folder / "training.csv", index=False)
    prod.iloc[:300].to_csv(folder / "incoming" / "week-01.csv", index=False)
    registration.register_model(ctx, login(USER), demo_spec("Fraud", "data/fraud/training.csv",
                                                             "data/fraud/incoming/week-01.csv"))
    return "Fraud"


def _actions(app, username, name) -> ModelActions:
    log_in_through_the_form(app, username)
    app.state.selected_model = name
    app.open_page("models")
    view = app.view
    view.show(name)
    view.actions.selected_index = 0
    view.wait()  # the connector is listed in the background
    return view.model_actions


def _choose(actions, label):
    actions.browser.listing.value = dict(actions.browser.listing.options)[label]
    actions.view.wait()  # a folder is listed in the background


def test_an_owner_schedules_a_pull_of_a_folder_picked_in_the_browser(app, ctx, model):
    actions = _actions(app, USER, model)
    assert actions.pull_state.value == "No schedule: production data is added by hand."
    assert actions.pull_now.disabled
    assert actions.source.value == "local"
    _choose(actions, "data/")
    _choose(actions, "fraud/")
    _choose(actions, "incoming/")
    (use_folder,) = actions.browser.folder_buttons
    assert not use_folder.disabled
    use_folder.click()
    assert actions.pull_reference.value == "data/fraud/incoming"
    actions.pull_cadence.value = "1D"
    actions.pull_save.click()
    assert actions.pull_status.kind == "success", actions.pull_status.value
    assert actions.pull_state.value == "Pulls every 1D; never pulled yet; 0 file(s) read so far."
    assert not actions.pull_now.disabled
    actions.pull_now.click()
    assert actions.pull_status.kind == "success" and "Pull queued" in actions.pull_status.value
    assert "A pull is queued or running" in actions.pull_state.value
    actions.pull_now.click()  # one at a time
    assert actions.pull_status.kind == "error" and "already queued" in actions.pull_status.value


def test_a_bad_cadence_is_said_under_the_panel(app, model):
    actions = _actions(app, USER, model)
    actions.pull_cadence.value = "every day"
    actions.pull_reference.value = "data/fraud/incoming"
    actions.pull_save.click()
    assert actions.pull_status.kind == "error" and "cannot be read" in actions.pull_status.value \
        and "1D" in actions.pull_status.value


def test_another_user_gets_no_manage_section(app, model):
    log_in_through_the_form(app, OTHER_USER)
    app.state.selected_model = model
    app.open_page("models")
    assert app.view.model_actions is None


def test_the_panel_says_how_the_last_pull_ended(app, ctx, login, model):
    from vision_widgets.services import scheduled_pulls
    from vision_widgets.worker import Runner

    scheduled_pulls.set_pull(ctx, login(USER), model, "1D", "data/fraud/incoming")
    Runner(ctx, "test-worker").run(scheduled_pulls.pull_now(ctx, login(USER), model).id)
    actions = _actions(app, USER, model)
    assert actions.pull_outcome.value == "The last pull: 1 new batch(es), 300 rows."
    assert actions.pull_state.value.startswith("Pulls every 1D; last pulled ")

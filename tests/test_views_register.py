"""The Register model page: what restricted mode shows, where files are read (names for users,
paths for admins), labelled controls, and messages right under the button that caused them."""
from __future__ import annotations

import ipywidgets as w
import pytest
from helpers import ADMIN, USER, log_in_through_the_form, synced_text, write_demo_files

from vision_widgets.core.connectors import named_roots
from vision_widgets.views.base import ACTIONS
from vision_widgets.views.register import RegisterView


def _open(app, username):
    log_in_through_the_form(app, username)
    app.open_page("register")
    assert isinstance(app.view, RegisterView)
    app.view.wait()  # the first connector is listed in the background
    return app.view


def _shown(widget) -> bool:
    return widget.layout.display != "none"


def test_a_user_sees_data_folder_names_never_server_paths(app, ctx):
    view = _open(app, USER)
    names = [name for name, _ in named_roots(ctx.settings)]
    assert names == ["data", "demo-data"]
    assert "data folders data, demo-data" in view.folders.text and "data/<file>.csv" in view.folders.text
    assert str(ctx.settings.home) not in synced_text()  # not on the page, not in any widget state


def test_an_admin_also_sees_where_the_folders_are(app, ctx):
    view = _open(app, ADMIN)
    assert f"data = {ctx.settings.home / 'data'}" in view.folders.text


def test_a_file_named_by_its_data_folder_registers(app, ctx):
    write_demo_files(ctx.settings.home / "data" / "fraud")
    view = _open(app, USER)
    view.name.value = "By folder name"
    view.training.value = "data/fraud/fraud_training.csv"
    view.production.value = "data/fraud/fraud_production.csv"
    view.target.value, view.prediction.value, view.timestamp.value = "is_fraud", "fraud_score", "event_time"
    view.exclude.value = "record_id"
    view.submit.click()
    assert view.status.kind == "info" and "queued" in view.status.value, view.status.value


def test_a_path_outside_the_folders_is_refused_naming_the_folders_not_their_paths(app, ctx):
    view = _open(app, USER)
    view.name.value = "Outside"
    view.training.value, view.production.value = "/etc/passwd", "/etc/hosts"
    view.target.value = "is_fraud"
    view.submit.click()
    assert view.status.kind == "error"
    assert "outside the folders" in view.status.value and "data, demo-data" in view.status.value
    assert str(ctx.settings.home) not in view.status.value


def test_restricted_mode_shows_only_what_it_needs(app):
    view = _open(app, USER)
    assert _shown(view.open_data) and _shown(view.connector) and not _shown(view.restricted_note)
    view.restricted.value = True
    assert not _shown(view.open_data)  # no connector, no file fields, no folder list
    assert _shown(view.restricted_note) and "Nothing is read on this server" in view.restricted_note.text
    # paths typed before switching are not sent with a restricted model
    view.training.value = "data/x.csv"
    assert view.spec().training == "" and view.spec().connector == "local"
    view.restricted.value = False
    assert _shown(view.open_data) and not _shown(view.restricted_note)


@pytest.mark.parametrize("username", [USER, ADMIN])
def test_every_control_has_its_own_label(app, username):
    view = _open(app, username)
    controls = [view.name, view.description, view.task, view.platform, view.connector, view.training,
                view.production, view.target, view.prediction, view.timestamp, view.features, view.exclude,
                view.restricted]
    if username == ADMIN:
        controls.append(view.owner)
    assert all(c.description for c in controls), [type(c).__name__ for c in controls if not c.description]
    assert view.submit.description == "Register model"


def test_the_message_sits_right_under_the_button_that_caused_it(app):
    view = _open(app, USER)
    action = next(c for c in view.children if isinstance(c, w.VBox) and view.status in c.children)
    assert view.submit in action.children[0].children  # the button's row, then progress, then the message
    assert list(action.children).index(view.status) == 2
    view.submit.click()  # nothing filled in
    assert view.status.kind == "error" and view.status.value
    assert "vision-status" in view.status._dom_classes  # the class that lets a message wrap


# -- the connector choice and the browser ---------------------------------------------------------
@pytest.fixture
def warehouse(ctx, tmp_path):
    """A stored ``sql`` connector over a SQLite file holding the fraud demo data as two tables."""
    import sqlite3

    from helpers import PASSWORDS, demo_frames

    from vision_widgets.core.identity import auth
    from vision_widgets.services import connectors as stored_connectors

    train, prod = demo_frames()
    db = tmp_path / "warehouse.db"
    with sqlite3.connect(db) as con:
        train.drop(columns=["event_time"]).to_sql("fraud_training", con, index=False)
        prod.drop(columns=["event_time"]).to_sql("fraud_production", con, index=False)
    admin = auth.login(ctx, ADMIN, PASSWORDS[ADMIN]).principal
    stored_connectors.add_connector(ctx, admin, "warehouse", "sql", {}, {"url": f"sqlite:///{db}"})
    return db


def _listed(view) -> list[str]:
    return [label for label, _ in view.browser.listing.options]


def _choose(view, label: str) -> None:
    """Choose ``label`` in the browser's list, as a click in the browser does."""
    view.browser.listing.value = dict(view.browser.listing.options)[label]
    view.wait()  # a folder is listed in the background


def test_the_connector_choice_lists_the_stored_connectors_local_first(app, warehouse):
    view = _open(app, USER)
    assert [name for _, name in view.connector.options] == ["local", "warehouse"]
    assert view.connector.value == "local"
    assert dict(view.connector.options)["warehouse — SQL database"] == "warehouse"


def test_a_user_browses_local_folders_by_name_and_picks_files(app, ctx):
    write_demo_files(ctx.settings.home / "data" / "fraud")
    view = _open(app, USER)
    assert _listed(view) == ["data/"]  # the data folders that exist, by name (no demo data here)
    _choose(view, "data/")
    assert _listed(view) == ["fraud/"]
    _choose(view, "fraud/")
    assert _listed(view) == ["fraud_production.csv", "fraud_training.csv"]
    assert [c.description for c in view.browser.crumbs.children if isinstance(c, w.Button)] == ["local", "data", "fraud"]
    use_training, use_production = view.browser.buttons
    assert use_training.disabled and use_production.disabled  # nothing chosen yet
    _choose(view, "fraud_training.csv")
    assert not use_training.disabled and view.browser.picked.value == "Chosen: fraud_training.csv"
    use_training.click()
    _choose(view, "fraud_production.csv")
    use_production.click()
    assert (view.training.value, view.production.value) == ("data/fraud/fraud_training.csv",
                                                            "data/fraud/fraud_production.csv")
    assert str(ctx.settings.home) not in synced_text()  # browsing shows names, never server paths
    # the breadcrumb goes back up
    crumbs = [c for c in view.browser.crumbs.children if isinstance(c, w.Button)]
    crumbs[0].click()
    view.wait()
    assert _listed(view) == ["data/"] and view.browser.trail == ()


def test_a_table_picked_under_a_sql_connector_registers_through_it(app, ctx, warehouse):
    view = _open(app, USER)
    view.connector.value = "warehouse"
    view.wait()
    assert not _shown(view.folders)  # the data folders are the local connector's business
    assert {"fraud_training  · table", "fraud_production  · table"} <= set(_listed(view))
    _choose(view, "fraud_training  · table")
    view.browser.buttons[0].click()
    _choose(view, "fraud_production  · table")
    view.browser.buttons[1].click()
    view.name.value = "From the warehouse"
    view.target.value, view.prediction.value, view.exclude.value = "is_fraud", "fraud_score", "record_id"
    view.submit.click()
    assert view.status.kind == "info" and "queued" in view.status.value, view.status.value
    spec = view.spec()
    assert (spec.connector, spec.training, spec.production) == ("warehouse", "fraud_training", "fraud_production")
    assert "sqlite:///" not in synced_text()  # the connector's URL (its secret) never reaches a widget


def test_restricted_mode_hides_the_connector_browser(app):
    view = _open(app, USER)
    view.restricted.value = True
    assert not _shown(view.open_data) and view.browser in view.open_data.children


def test_a_disabled_use_button_clicked_anyway_fills_nothing(app, ctx):
    view = _open(app, USER)
    view.browser.buttons[0].click()  # the browser can click a disabled button
    assert view.training.value == ""


def test_picking_a_slow_connector_lists_it_in_the_background_and_says_so(app, ctx, monkeypatch):
    """Listing a source can take its timeouts (an unreachable database, a cold warehouse): the page
    must not freeze meanwhile; it says "Listing…", then shows what the source holds."""
    import threading
    import time

    from helpers import PASSWORDS

    from vision_widgets.core.identity import auth
    from vision_widgets.services import connectors as stored_connectors

    import sqlite3

    from vision_widgets.views.base import BROWSE

    admin = auth.login(ctx, ADMIN, PASSWORDS[ADMIN]).principal
    empty = ctx.settings.home / "empty.db"
    sqlite3.connect(empty).close()  # a database file with no tables (SQLite connectors open files read-only)
    stored_connectors.add_connector(ctx, admin, "slow", "sql", {}, {"url": f"sqlite:///{empty}"})
    release = threading.Event()
    real = stored_connectors.browse

    def slow(ctx_, principal, name, path=""):
        if name == "slow":
            release.wait(10)
        return real(ctx_, principal, name, path)

    monkeypatch.setattr(stored_connectors, "browse", slow)
    view = _open(app, USER)
    t0 = time.monotonic()
    view.connector.value = "slow"   # the user picks it
    took = time.monotonic() - t0
    try:
        assert took < 2, took
        assert view.browser.status.value == "Listing…" and _listed(view) == []  # the last source's list is gone
        # the listing has a lane of its own: the page's requests (Register) are not held up by it
        assert view.busy(BROWSE) and not view.busy()
    finally:
        release.set()
    view.wait()
    assert view.browser.status.value == "Nothing here that Vision AI can read."


def test_only_the_latest_listing_asked_for_is_shown(app, ctx, warehouse):
    write_demo_files(ctx.settings.home / "data" / "fraud")
    view = _open(app, USER)
    view.connector.value = "warehouse"
    view.connector.value = "local"   # changed again before the first listing ended
    view.wait()
    assert _listed(view) == ["data/"] and view.browser.root == "local"


def test_registering_while_a_slow_listing_runs_is_neither_refused_nor_held_up(app, monkeypatch):
    """Opening the page lists the first connector in the background; a person who fills the form
    and presses Register before that listing ends must be answered (it was refused with "Still
    working on the previous request" while both shared one background slot)."""
    import threading

    from vision_widgets.services import connectors as stored_connectors

    release = threading.Event()
    real = stored_connectors.browse

    def slow(ctx_, principal, name, path=""):
        release.wait(30)
        return real(ctx_, principal, name, path)

    monkeypatch.setattr(stored_connectors, "browse", slow)
    log_in_through_the_form(app, USER)
    app.open_page("register")
    view = app.view
    try:
        assert view.browser.status.value == "Listing…"
        view.name.value = "Secret model"
        view.task.value = "binary classification"
        view.restricted.value = True
        view.target.value = "is_fraud"
        view.prediction.value = "fraud_score"
        view.submit.click()
        view.wait(lanes=(ACTIONS,))  # the registration's own job, while the listing still hangs
        assert view.status.value == "Secret model is registered and awaiting metrics."
        assert view.browser.status.value == "Listing…"
    finally:
        release.set()
        view.wait()

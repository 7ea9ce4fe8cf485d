"""The Connectors page (views/connectors.py) driven headlessly, as an admin uses it, over a real SQLite source."""
from __future__ import annotations

import sqlite3
import time

import pytest
from helpers import ADMIN, USER, log_in_through_the_form, signed_in_state, synced_text

from vision_widgets.core.secrets import KEY_FILE
from vision_widgets.core.storage import schema
from vision_widgets.services import connectors
from vision_widgets.views.connectors import SAVED, ConnectorsView

MARK = "distinctive-view-secret-folder"


@pytest.fixture
def sales_url(tmp_path) -> str:
    """A SQLite file with two tables; the URL (a secret) holds a distinctive folder name."""
    folder = tmp_path / MARK
    folder.mkdir()
    with sqlite3.connect(folder / "sales.db") as db:
        db.execute("create table orders (id integer, amount real)")
        db.execute("create table customers (id integer, name text)")
    return f"sqlite:///{folder / 'sales.db'}"


@pytest.fixture
def page(ctx, login):
    view = ConnectorsView(ctx, signed_in_state(login(ADMIN)))
    yield view
    view.wait()
    view.close()


def _add_sales(page, url, name="sales", description="Sales database"):
    page.add.click()
    page.name.value = name
    page.type.value = "sql"
    page.description.value = description
    page.secret_inputs["url"].value = url
    page.save.click()


def _row(page, name):
    return next(r for r in page.table.rows if r[0] == name)


def _test(page):
    page.test.click()
    page.wait()


def _use(ctx, model: str, connector: str) -> None:
    now = ctx.now()
    with ctx.store.write() as conn:
        conn.execute(schema.models.insert().values(
            name=model, name_key=model.lower(), description="", task="classification", platform="",
            connector=connector, connector_details="{}", owner=USER, lob="", sub_lob="", roles="{}",
            restricted=False, status="active", drift_settings="{}", created_by=USER, created_at=now, updated_at=now,
        ))


def test_the_table_lists_the_built_in_local_connector(page):
    assert page.table.rows == (("local", "Local filesystem", "Files on the server under the allowed data folders.",
                                0, "built in: no test needed"),)
    assert page.choice.value == "local" and page.heading.value == "Connector local"
    assert page.save.disabled and page.remove.disabled  # built in: no settings, stays


def test_an_admin_adds_a_sqlite_connector_tests_it_and_sees_ok(page, sales_url):
    _add_sales(page, sales_url)
    assert page.save_status.value.startswith("Connector sales added.")
    assert page.save_status.kind == "success"
    assert page.secret_inputs["url"].value == "" and page.secret_inputs["url"].placeholder == SAVED
    assert _row(page, "sales")[:4] == ("sales", "SQL database", "Sales database", 0)
    assert _row(page, "sales")[4] == "never tested"
    assert page.inputs["connect_timeout"].value == "10"  # the type's default, now stored
    _test(page)
    assert not page.test.disabled
    assert page.test_status.kind == "success", page.test_status.value
    assert page.test_status.value.startswith("ok — ")
    assert "Sees: customers, orders." in page.test_status.value
    assert _row(page, "sales")[4].startswith("ok · ") and _row(page, "sales")[4].endswith("just now")


def test_a_failing_test_says_why_next_to_the_button(page, tmp_path):
    _add_sales(page, f"sqlite:///{tmp_path / 'no-such-folder' / 'x.db'}", name="gone")
    _test(page)
    assert page.test_status.kind == "error" and page.test_status.value.startswith("Failed: ")
    assert "no-such-folder" not in page.test_status.value
    assert _row(page, "gone")[4] == "failed · just now"


def test_no_secret_is_ever_in_a_widget_trait(page, sales_url):
    _add_sales(page, sales_url)
    _test(page)
    page.choice.value = "local"
    page.choice.value = "sales"  # the form rebuilt for a stored connector
    assert MARK not in synced_text()
    assert page.secret_inputs["url"].value == ""


def test_bad_input_is_said_next_to_save_and_nothing_is_stored(page, ctx, login):
    page.add.click()
    page.name.value = "sales"
    page.type.value = "sql"
    page.secret_inputs["url"].value = "not a url"
    page.save.click()
    assert page.save_status.kind == "error" and "SQLAlchemy URL is not valid" in page.save_status.value
    assert page.secret_inputs["url"].value == ""  # cleared even when the save failed
    assert [c.name for c in connectors.list_connectors(ctx, login(ADMIN))] == ["local"]
    page.name.value = "bad name!"
    page.save.click()
    assert "1–32 letters" in page.save_status.value


def test_editing_keeps_a_secret_left_empty_and_changes_settings(page, ctx, login, sales_url):
    _add_sales(page, sales_url)
    page.description.value = "Renamed purpose"
    page.inputs["connect_timeout"].value = "20"
    page.save.click()
    assert page.save_status.value == "Connector sales saved."
    info = connectors.get_connector(ctx, login(ADMIN), "sales")
    assert info.description == "Renamed purpose" and info.config["connect_timeout"] == 20
    assert info.secrets_set == ("url",)
    _test(page)
    assert page.test_status.kind == "success"  # the URL kept works


def test_remove_asks_first_and_moves_models_to_a_connector_of_the_same_type(page, ctx, sales_url):
    _add_sales(page, sales_url)
    _add_sales(page, sales_url, name="sales2")
    _use(ctx, "Churn", "sales")
    page.refresh(select="sales")
    assert _row(page, "sales")[3] == 1
    page.remove.click()
    assert page.confirm.layout.display == "flex"
    assert "1 model uses it (Churn)" in page.confirm.question.value
    assert page.move_to.options == ("sales2",)
    page.confirm.cancel_button.click()
    page.confirm.confirm.click()  # a hidden confirm clicked by the browser does nothing
    assert "sales" in page.choice.options
    page.remove.click()
    page.confirm.confirm.click()
    assert page.remove_status.value == "Connector sales removed; its models now use sales2."
    assert "sales" not in page.choice.options and _row(page, "sales2")[3] == 1


def test_remove_with_no_other_connector_of_its_type_says_to_add_one(page, ctx, sales_url):
    _add_sales(page, sales_url)
    _use(ctx, "Churn", "sales")
    page.refresh(select="sales")
    page.remove.click()
    assert page.confirm.layout.display == "none"
    assert "no other SQL database connector to move them to" in page.remove_status.value


def test_a_lost_key_says_to_reenter_the_secrets(page, ctx, sales_url):
    _add_sales(page, sales_url)
    (ctx.settings.home / KEY_FILE).unlink()
    page.refresh(select="sales")
    assert "cannot be decrypted" in page.notice.value and page.notice.kind == "error"
    assert _row(page, "sales")[4] == "secrets unreadable: re-enter them"
    _test(page)
    assert page.test_status.kind == "error" and "re-enter them" in page.test_status.value
    page.secret_inputs["url"].value = sales_url
    page.save.click()
    assert page.notice.value == ""
    _test(page)
    assert page.test_status.kind == "success"


def test_the_test_button_is_disabled_while_the_test_runs(page, sales_url, monkeypatch):
    _add_sales(page, sales_url)
    seen = []
    real = connectors.test_connector

    def slow(*args, **kwargs):
        seen.append(page.test.disabled)
        time.sleep(0.2)
        return real(*args, **kwargs)

    monkeypatch.setattr(connectors, "test_connector", slow)
    page.test.click()
    assert page.test_status.value.startswith("Testing sales")
    page.wait()
    assert seen == [True] and not page.test.disabled


def test_a_user_has_no_connectors_page_and_the_service_refuses(app, ctx, login):
    log_in_through_the_form(app, USER)
    assert "Connectors" not in [title for title, _ in app.nav.options]
    app.open_page("connectors")
    assert app.view is None
    view = ConnectorsView(ctx, signed_in_state(login(USER)))  # built anyway: the service still says no
    try:
        assert "may not manage connectors" in view.list_status.value
        assert view.children == (view.list_status,)
    finally:
        view.close()


def test_an_admin_finds_connectors_in_the_admin_group(app):
    log_in_through_the_form(app, ADMIN)
    assert "Connectors" in [title for title, _ in app.nav.options]
    app.open_page("connectors")
    assert isinstance(app.view, ConnectorsView)


def test_add_keeps_the_inputs_of_the_type_shown_and_a_new_type_gets_its_own(page, sales_url):
    _add_sales(page, sales_url)
    url_input = page.secret_inputs["url"]
    page.add.click()  # same type: the same inputs, emptied (a browser typing meanwhile keeps its text)
    assert page.secret_inputs["url"] is url_input and url_input.placeholder == "required"
    assert page.heading.value == "New connector" and page.name.value == "" and not page.name.disabled
    page.type.value = "local"
    assert "url" not in page.inputs and page.fields_box.children[0].value == "This type has no settings."
    page.type.value = "sql"
    assert page.secret_inputs["url"] is not url_input and page.secret_inputs["url"].value == ""


def test_a_result_arriving_after_another_connector_was_chosen_stays_out_of_its_form(page, sales_url, monkeypatch):
    _add_sales(page, sales_url)
    real = connectors.test_connector

    def slow(*args, **kwargs):
        time.sleep(0.3)
        return real(*args, **kwargs)

    monkeypatch.setattr(connectors, "test_connector", slow)
    page.test.click()
    page.choice.value = "local"
    page.wait()
    assert page.test_status.value == ""
    assert _row(page, "sales")[4].startswith("ok · ")  # the table still tells


def test_every_type_gets_a_form_whose_secret_fields_are_empty_password_inputs(page):
    import ipywidgets as w

    from vision_widgets.core import connectors as registry

    page.add.click()
    for ctype in registry.types():
        page.type.value = ctype.type
        assert set(page.inputs) == {f.name for f in ctype.fields}
        for f in ctype.fields:
            widget = page.inputs[f.name]
            assert isinstance(widget, w.Password) is f.secret, (ctype.type, f.name)
            if f.secret:
                assert widget.value == "" and widget.placeholder in ("required", "optional")


def test_an_s3_connector_keeps_its_keys_sealed_and_says_which_are_saved(page, ctx, login):
    page.add.click()
    page.type.value = "s3"
    page.name.value = "lake"
    page.inputs["bucket"].value = "models"
    page.inputs["access_key_id"].value = "AKIAEXAMPLE"
    page.secret_inputs["secret_access_key"].value = "s3-distinctive-secret-key"
    page.save.click()
    assert page.save_status.kind == "success", page.save_status.value
    assert page.secret_inputs["secret_access_key"].placeholder == SAVED
    assert page.secret_inputs["session_token"].placeholder == "optional"
    assert connectors.get_connector(ctx, login(ADMIN), "lake").secrets_set == ("secret_access_key",)
    assert "s3-distinctive-secret-key" not in synced_text()


def test_the_built_in_local_connector_needs_no_test_as_monitoring_says():
    from datetime import datetime, timezone

    from vision_widgets.services.connectors import ConnectorInfo
    from vision_widgets.views.connectors import last_test

    now = datetime(2026, 11, 27, tzinfo=timezone.utc)
    common = dict(type="local", title="Local filesystem", description="", config={}, secrets_set=(), readable=True,
                  last_test_at=None, last_test_ok=None, last_test_ms=None, last_test_message="", models=())
    assert last_test(ConnectorInfo(name="local", **common), now) == "built in: no test needed"
    assert last_test(ConnectorInfo(name="files", **common), now) == "never tested"

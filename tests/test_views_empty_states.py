"""Pages with nothing to show say what to do next (an account with no model, a model awaiting metrics)."""
from __future__ import annotations

from helpers import ADMIN, OTHER_ADMIN, USER, log_in_through_the_form

from vision_widgets.core.identity import rbac
from vision_widgets.views.model360 import Model360View


def _texts(box) -> str:
    return " ".join(getattr(c, "value", "") for c in box.children if isinstance(getattr(c, "value", None), str))


def test_an_account_with_no_model_is_told_to_register_one_and_whom_to_ask(app):
    log_in_through_the_form(app, USER)
    view = app.view
    assert isinstance(view, Model360View)
    assert view.empty_state.layout.display == "flex" and view.list_table.layout.display == "none"
    assert view.list_hint.layout.display == "none", "no 'click a model' over an empty list"
    text = _texts(view.empty_state)
    assert "You have no models yet. Register one" in text
    assert ADMIN in text and OTHER_ADMIN in text, "the administrators are named"
    register = next(c for c in view.empty_state.children if getattr(c, "description", "") == "Register a model")
    register.click()
    assert app.page.key == "register", "the button opens the Register page"


def test_an_account_that_may_not_register_is_told_whom_to_ask(app, monkeypatch):
    reduced = dict(rbac.ROLE_PERMISSIONS)
    reduced["user"] = reduced["user"] - {rbac.Permission.REGISTER_MODEL}
    monkeypatch.setattr(rbac, "ROLE_PERMISSIONS", reduced)
    log_in_through_the_form(app, USER)
    text = _texts(app.view.empty_state)
    assert "Register one" not in text
    assert f"Ask an administrator ({', '.join(sorted([ADMIN, OTHER_ADMIN, *_other_admins(app)]))})" in text
    assert not any(getattr(c, "description", "") == "Register a model" for c in app.view.empty_state.children)


def _other_admins(app) -> list[str]:
    from vision_widgets.services import accounts

    return [a for a in accounts.administrators(app.ctx, app.state.principal) if a not in (ADMIN, OTHER_ADMIN)]


def test_a_filter_matching_nothing_is_not_the_empty_state(app, register_restricted):
    register_restricted("Scorer")
    log_in_through_the_form(app, USER)
    view = app.view
    assert view.empty_state.layout.display == "none"
    view.search.value = "no such model"
    assert view.empty_state.layout.display == "none"
    assert view.list_table.rows == () and view.list_table.empty.value == "No models match."
    assert view.list_table.empty.layout.display != "none"


def test_a_model_awaiting_client_metrics_shows_the_steps_with_the_downloads(app, register_restricted):
    register_restricted("Awaiting scorer")
    log_in_through_the_form(app, USER)
    view = app.view
    assert view.heading.value == "Awaiting scorer"
    assert view.next_steps.layout.display == "flex"
    text = _texts(view.next_steps)
    assert text.startswith("1. Download the client notebook")
    assert "filled in for Awaiting scorer" in text and "upload token" in text
    # the owner's downloads are in "Add data": the notebook filled in for this model, and client.py
    from vision_widgets.views.client_download import ClientDownloads

    def walk(widget):
        yield widget
        for child in getattr(widget, "children", ()):
            yield from walk(child)

    downloads = [d for d in walk(view.actions) if isinstance(d, ClientDownloads)]
    assert len(downloads) == 1 and downloads[0].model == "Awaiting scorer"
    assert "Download the client notebook" in downloads[0].notebook_link.value


def test_the_drift_card_and_the_list_say_the_verdict_alike(app, ctx, settings):
    from helpers import demo_spec, write_demo_files

    from vision_widgets.core.identity import sessions
    from vision_widgets.services import registration

    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, sessions.operator_session(ctx, USER), demo_spec("Fraud detection", train, prod))
    log_in_through_the_form(app, USER)
    view = app.view
    card = view.kpis["drift"]
    drifted, total = (int(x) for x in card.figure.split(" of "))
    verdict = f"{drifted} of {total} features drifted; dataset drift needs 50%"
    assert card.note.endswith(verdict)
    share = f"{drifted / total:.0%} drifted, needs 50%"
    assert any(share in str(cell) for row in view.list_table.rows for cell in row), \
        "the list gives the same share and the same rule"
    assert view.kpis["auc"].figure.startswith("0."), "metrics are decimals, like the table's"

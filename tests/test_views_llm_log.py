"""The LLM chat log on the Monitoring page, driven headlessly: an admin opens the fold and reads who asked
what about which model (contents shortened), filters by account, and turns recording off — after which
nothing new is kept; the service refuses the log and the switch to a user."""
from __future__ import annotations

import pytest
from helpers import ADMIN, USER, demo_spec, log_in_through_the_form, write_demo_files

from vision_widgets.core.errors import PermissionDenied
from vision_widgets.services import llm_chat, registration
from vision_widgets.views.llm_log_panel import LlmLogPanel, shorten
from vision_widgets.views.monitoring import MonitoringView


@pytest.fixture
def asked(ctx, login, settings):
    """The user asked once about their model and once the FAQ (no endpoint: the fallback is recorded)."""
    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    user = login(USER)
    list(llm_chat.ask_about_model(ctx, user, "Fraud detection", "Why did drift fire?", conversation="c-1"))
    list(llm_chat.ask_faq(ctx, login(ADMIN), "What does PSI mean?", conversation="c-2"))


def open_log(app) -> LlmLogPanel:
    log_in_through_the_form(app, ADMIN)
    app.open_page("monitoring")
    view = app.view
    assert isinstance(view, MonitoringView)
    view.wait()
    assert view.llm_log_panel is None and view.llm_log.selected_index is None  # folded, not built
    view.llm_log.selected_index = 0
    return view.llm_log_panel


def test_an_admin_reads_the_log_newest_first_with_long_contents_shortened(app, asked):
    panel = open_log(app)
    rows = panel.grid.rows
    assert panel.grid.count.value == f"{len(rows)} entries"
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1))
    by_kind = {(r[2], r[5]): r[1:] for r in rows}
    question = by_kind[(USER, "question")]
    assert question[2] == "Fraud detection" and question[3] == "none (not sent)" and question[5] == "Why did drift fire?"
    summary = by_kind[(USER, "summary without LLM")]
    assert len(summary[5]) <= 160 and summary[5].endswith("…") and "\n" not in summary[5]
    assert (ADMIN, "question") in by_kind and by_kind[(ADMIN, "question")][2] == "–"  # the FAQ names no model
    assert rows[0][2] == ADMIN  # newest first: the FAQ question came last


def test_a_click_on_an_entry_shows_it_whole_as_text(app, asked):
    panel = open_log(app)
    n = next(r[0] for r in panel.grid.rows if r[5] == "summary without LLM")
    panel.grid.open_row(n - 1)
    assert panel.entry_title.value.startswith(f"#{n}: summary without LLM · {USER} about Fraud detection · ")
    assert panel.entry_title.value.endswith("conversation c-1")
    assert panel.entry.text.startswith("**Summary written without the LLM") and len(panel.entry.text) > 160
    assert "<strong>" not in panel.entry.value  # shown as text, not rendered
    panel.show.click()
    assert panel.entry.text == ""  # a reload forgets the entry shown


def test_the_log_is_filtered_by_account(app, asked):
    panel = open_log(app)
    panel.account.value = USER
    panel.show.click()
    assert panel.grid.rows and {r[2] for r in panel.grid.rows} == {USER}
    panel.account.value = "nobody"
    panel.show.click()
    assert panel.grid.rows == () and panel.grid.empty.value == "Nothing recorded for nobody."


def test_recording_off_keeps_nothing_new_and_on_again_does(app, asked, ctx, login):
    panel = open_log(app)
    before = len(panel.grid.rows)
    assert panel.record.value is True
    panel.record.value = False
    assert llm_chat.recording(ctx) is False
    assert panel.status.value.startswith("Recording is off")
    list(llm_chat.ask_faq(ctx, login(USER), "How do I change my password?"))
    panel.show.click()
    assert len(panel.grid.rows) == before
    panel.record.value = True
    assert llm_chat.recording(ctx) is True and panel.status.value.startswith("Recording is on")
    list(llm_chat.ask_faq(ctx, login(USER), "How do I change my password?"))
    panel.show.click()
    assert len(panel.grid.rows) > before


def test_a_user_may_neither_read_the_log_nor_switch_recording(ctx, login, asked):
    with pytest.raises(PermissionDenied):
        llm_chat.log_entries(ctx, login(USER))
    with pytest.raises(PermissionDenied):
        llm_chat.set_recording(ctx, login(USER), False)
    assert llm_chat.recording(ctx) is True


def test_shorten_keeps_short_text_and_cuts_long_text_on_one_line():
    assert shorten("a\n  b") == "a b"
    cut = shorten("word " * 100, 20)
    assert len(cut) <= 20 and cut.endswith("…")

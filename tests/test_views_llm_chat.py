"""The LLM Chat page driven headlessly over a temporary database: the answer streams in progressively,
the numbers used fold under it, look-ups are small lines, a fallback says so above the answer, the FAQ
names the entry it answered from, follow-ups carry the history, New conversation forgets it, a second
Ask while one streams is refused, the picker lists only the user's own models, and a hostile answer
renders inert through the page.

The service (``services.llm_chat``) is replaced by scripted fakes here: what it does is tested with
its own tests; this file tests what the page makes of its events.
"""
from __future__ import annotations

import threading
import time

import pytest
from helpers import (ADMIN, OTHER_USER, USER, demo_spec, labels_text, log_in_through_the_form, synced_text,
                     write_demo_files)

from test_markdown import inert

from vision_widgets.app import PAGES
from vision_widgets.core.errors import InvalidInput, PermissionDenied
from vision_widgets.services import llm_chat, registration
from vision_widgets.views.llm_chat import LlmChatView

Fact, Facts, Delta, ToolUse, Done, Turn = (llm_chat.Fact, llm_chat.Facts, llm_chat.Delta, llm_chat.ToolUse,
                                           llm_chat.Done, llm_chat.Turn)
FACTS = (Fact("Dataset drift (window 2024-04-24)", "yes: 3 of 8 features"), Fact("PSI of amount", "0.31"))


def eventually(condition, what: str = "", timeout: float = 10.0):
    """Wait until ``condition()`` holds (the page updates from its background lane)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.01)


class FakeLlm:
    """Scripted stand-ins for the service's functions; records every call."""

    def __init__(self, configured: bool = True) -> None:
        self.configured = configured
        self.calls: list[dict] = []
        self.script = lambda question: [Facts(FACTS), Delta("Drift fired."), Done("Drift fired.", "llm")]
        self.closed = threading.Event()
        self.recorded = True
        self.answers: list[llm_chat.Answer] = []

    def status(self, ctx):
        if self.configured:
            return llm_chat.LlmStatus(True, "http://127.0.0.1:9999/v1", "test-model")
        return llm_chat.LlmStatus(False, "", "gpt-4o-mini")

    def recording(self, ctx):
        return self.recorded

    def _events(self, question):
        try:
            for event in self.script(question):
                if callable(event):
                    event()  # a pause the test controls
                else:
                    yield event
        finally:
            self.closed.set()

    def ask_about_model(self, ctx, principal, model_name, question, history=(), conversation=""):
        self.calls.append(dict(kind="model", model=model_name, question=question, history=tuple(history),
                               conversation=conversation, username=principal.username))
        if not question.strip():
            raise InvalidInput("Type a question first.", field="question")
        if model_name == "Not yours":
            raise PermissionDenied("You may not open this model: it belongs to another user.")
        answer = llm_chat.Answer(lambda cancel: self._events(question))  # closable from any thread, as the real one
        self.answers.append(answer)
        return answer

    def ask_faq(self, ctx, principal, question, history=(), conversation=""):
        self.calls.append(dict(kind="faq", question=question, history=tuple(history), conversation=conversation))
        return self._events(question)


@pytest.fixture
def fake(monkeypatch):
    llm = FakeLlm()
    for name in ("status", "recording", "ask_about_model", "ask_faq"):
        monkeypatch.setattr(llm_chat, name, getattr(llm, name))
    return llm


@pytest.fixture
def models(ctx, login, settings):
    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    registration.register_model(ctx, login(OTHER_USER), demo_spec("Not yours", train, prod))
    return train, prod


def open_chat(app, username=USER) -> LlmChatView:
    log_in_through_the_form(app, username)
    app.open_page("chat")
    assert isinstance(app.view, LlmChatView)
    return app.view


def test_llm_chat_is_a_model_page_for_every_account():
    page = next(p for p in PAGES if p.key == "chat")
    assert (page.title, page.group, page.icon) == ("LLM Chat", "Models", "comments") and page.purpose


def test_the_answer_streams_in_then_its_numbers_fold_under_it(app, models, fake):
    go_on, finish = threading.Event(), threading.Event()
    fake.script = lambda q: [
        Facts(FACTS), Delta("Drift **fired** "), go_on.wait,
        Delta("because "), ToolUse("drift_report", '{"window": "2024-04-17"}', True, "drift report for window 2024-04-17"),
        Delta("amount moved."), finish.wait,
        Done("Drift **fired** because amount moved.", "llm"),
    ]
    view = open_chat(app)
    assert view.model.options == ("Fraud detection",) and view.model.value == "Fraud detection"
    assert view.tabs.titles == ("Drift analysis", "Vision AI FAQ")
    view.drift.question.value = "Why did drift fire?"
    view.drift.ask.click()
    (asked, answer), = view.drift.chat.exchanges
    assert asked.value == "Why did drift fire?" and view.drift.question.value == ""
    # the first piece shows while the stream is held: the answer fills progressively
    eventually(lambda: answer.text == "Drift **fired** ", "the first piece")
    assert "<strong>fired</strong>" in answer.body.value
    assert answer.fact_rows == (("Dataset drift (window 2024-04-24)", "yes: 3 of 8 features"), ("PSI of amount", "0.31"))
    assert answer.fold.titles == ("Numbers used (2)",) and answer.fold.selected_index is None  # folded
    assert "PSI of amount" in answer.facts.value and "0.31" in answer.facts.value
    assert view.drift.ask.disabled
    go_on.set()
    eventually(lambda: answer.text == "Drift **fired** because amount moved.", "the rest before the end")
    assert [t.value for t in answer.tools.children] == ["Looked up: drift report for window 2024-04-17"]
    assert answer.source.layout.display == "none"  # not finished yet
    finish.set()
    view.wait()
    assert answer.source.value == "Written by the LLM (test-model)." and answer.source.layout.display == ""
    assert answer.notice.layout.display == "none" and answer.waiting.layout.display == "none"
    assert not view.drift.ask.disabled
    assert fake.calls[0]["model"] == "Fraud detection" and fake.calls[0]["username"] == USER


def test_a_fast_stream_is_batched_not_one_update_per_piece(app, models, fake):
    pieces = [f"word{i} " for i in range(400)]
    fake.script = lambda q: [Facts(FACTS), *(Delta(p) for p in pieces), Done("".join(pieces), "llm")]
    view = open_chat(app)
    answer_values: list[str] = []
    view.drift.question.value = "Tell me everything"
    view.drift.ask.click()
    answer = view.drift.chat.exchanges[0][1]
    answer.body.observe(lambda c: answer_values.append(c["new"]), "value")
    view.wait()
    assert answer.text == "".join(pieces)
    assert len(answer_values) < 40  # 400 pieces, a handful of redraws


def test_follow_ups_carry_the_history_and_new_conversation_forgets_it(app, models, fake):
    view = open_chat(app)
    view.drift.question.value = "Why did drift fire?"
    view.drift.ask.click()
    view.wait()
    first = fake.calls[0]["conversation"]
    assert len(first) == 36 and fake.calls[0]["history"] == ()
    view.drift.question.value = "And which feature first?"
    view.drift.ask.click()
    view.wait()
    assert fake.calls[1]["history"] == (Turn("user", "Why did drift fire?"), Turn("assistant", "Drift fired."))
    assert fake.calls[1]["conversation"] == first
    assert view.drift.chat.questions == ("Why did drift fire?", "And which feature first?")
    view.drift.new.click()
    assert view.drift.chat.exchanges == () and view.drift.history == ()
    view.drift.question.value = "Start again"
    view.drift.ask.click()
    view.wait()
    assert fake.calls[2]["history"] == () and fake.calls[2]["conversation"] not in ("", first)


def test_an_example_chip_asks_its_question(app, models, fake):
    view = open_chat(app)
    chip = next(c for c in view.drift.chips if c.description == "Which features should I look at first?")
    chip.click()
    view.wait()
    assert fake.calls[0]["question"] == "Which features should I look at first?"
    assert view.drift.chat.questions == ("Which features should I look at first?",)


def test_a_second_ask_while_one_streams_is_refused(app, models, fake):
    release = threading.Event()
    fake.script = lambda q: [Facts(FACTS), Delta("Working"), release.wait, Done("Working.", "llm")]
    view = open_chat(app)
    view.drift.question.value = "First"
    view.drift.ask.click()
    eventually(lambda: view.drift.chat.exchanges[0][1].text == "Working")
    view.drift.question.value = "Second"
    view.drift.ask.click()  # the browser can click a disabled button
    assert "Still answering your previous question" in view.drift.status.value
    assert view.drift.chat.questions == ("First",) and view.drift.question.value == "Second"
    release.set()
    view.wait()
    assert [c["question"] for c in fake.calls] == ["First"]


def test_no_endpoint_says_so_at_once_and_the_fallback_is_labelled(app, models, fake):
    fake.configured = False
    notice = "No LLM endpoint is configured (OPENAI_BASE_URL), so this answer was written from the stored numbers."
    summary = "**Drift** in the latest window: 3 of 8 features drifted."
    fake.script = lambda q: [Facts(FACTS), Delta(summary), Done(summary, "fallback", notice)]
    view = open_chat(app)
    assert view.intro.text.startswith("No LLM endpoint is configured")
    view.drift.question.value = "Why did drift fire?"
    view.drift.ask.click()
    view.wait()
    answer = view.drift.chat.exchanges[0][1]
    assert answer.notice.text == notice and answer.notice.layout.display == ""
    assert view.drift.chat.exchanges[0][1].children.index(answer.notice) < answer.children.index(answer.body)
    assert "<strong>Drift</strong>" in answer.body.value
    assert answer.source.value.startswith("Written from the numbers below without an LLM")
    assert answer.fold.titles == ("Numbers used (2)",)


def test_the_faq_names_the_entry_it_answered_from(app, models, fake):
    fake.script = lambda q: [Facts(()), Delta("PSI is the population stability index."),
                             Done("PSI is the population stability index.", "faq",
                                  matched_question="What does PSI mean?")]
    view = open_chat(app)
    view.tabs.selected_index = 1
    view.faq.question.value = "what is psi"
    view.faq.ask.click()
    view.wait()
    answer = view.faq.chat.exchanges[0][1]
    assert answer.source.value == "Answered from the FAQ: What does PSI mean?"
    assert answer.fold.layout.display == "none"  # nothing was given: no empty fold
    assert fake.calls[0]["kind"] == "faq" and view.drift.chat.exchanges == ()


def test_a_question_refused_by_the_service_leaves_no_exchange(app, models, fake):
    view = open_chat(app)
    view.drift.question.value = "   "
    view.drift.ask.click()
    view.wait()
    assert view.drift.status.value == "Type a question first." and view.drift.chat.exchanges == ()
    assert not view.drift.ask.disabled


def test_the_picker_lists_only_the_users_own_models_and_the_service_refuses_another(app, models, fake):
    view = open_chat(app)
    assert view.model.options == ("Fraud detection",)
    # whatever the browser manages to send, the service decides (here: refuses)
    view.model.options = ("Fraud detection", "Not yours")
    view.model.value = "Not yours"
    view.drift.question.value = "Show me"
    view.drift.ask.click()
    view.wait()
    assert view.drift.status.value == "You may not open this model: it belongs to another user."
    assert view.drift.chat.exchanges == ()


def test_an_admin_picks_among_every_model_and_the_apps_model_is_preselected(app, models, fake):
    app.state.selected_model = "Not yours"
    view = open_chat(app, ADMIN)
    assert set(view.model.options) == {"Fraud detection", "Not yours"} and view.model.value == "Not yours"


def test_choosing_another_model_starts_a_new_conversation(app, models, fake, ctx, login):
    train, prod = models
    registration.register_model(ctx, login(USER), demo_spec("Second model", train, prod))
    view = open_chat(app)
    view.drift.question.value = "Why?"
    view.drift.ask.click()
    view.wait()
    first = view.drift.conversation
    view.model.value = "Second model"
    assert view.drift.chat.exchanges == () and view.drift.history == () and view.drift.conversation != first
    assert app.state.selected_model == "Second model"


def test_choosing_another_model_while_an_answer_streams_closes_it_and_starts_afresh(app, models, fake, ctx, login):
    train, prod = models
    registration.register_model(ctx, login(USER), demo_spec("Second model", train, prod))
    release = threading.Event()
    fake.script = lambda q: [Facts(FACTS), Delta("About Fraud detection"), release.wait,
                             Delta(" and more"), Done("About Fraud detection and more", "llm")]
    view = open_chat(app)
    view.drift.question.value = "Why?"
    view.drift.ask.click()
    eventually(lambda: view.drift.chat.exchanges and view.drift.chat.exchanges[0][1].text == "About Fraud detection")
    first = view.drift.conversation
    view.model.value = "Second model"
    # the answer about the old model is closed, and a new conversation shows nothing of it
    assert fake.answers[0].closed
    assert view.drift.chat.exchanges == () and view.drift.history == () and view.drift.conversation != first
    assert "Still answering" not in view.drift.status.value
    release.set()
    view.wait()
    assert view.drift.history == () and view.drift.chat.exchanges == ()  # nothing of the old answer came back
    # the next question is about the new model, with no history from the old one
    fake.script = lambda q: [Facts(FACTS), Delta("About the second."), Done("About the second.", "llm")]
    view.drift.question.value = "And now?"
    assert view.drift.ask.disabled is False
    view.drift.ask.click()
    view.wait()
    assert fake.calls[-1]["model"] == "Second model" and fake.calls[-1]["history"] == ()
    assert fake.calls[-1]["conversation"] == view.drift.conversation
    assert [t.content for t in view.drift.history] == ["And now?", "About the second."]


def test_a_user_without_models_can_still_use_the_faq(app, fake):
    view = open_chat(app)
    assert view.model.options == () and view.drift.form.layout.display == "none"
    assert view.no_models.text.startswith("You have no models to ask about yet")
    view.faq.question.value = "How do I change my password?"
    view.faq.ask.click()
    view.wait()
    assert view.faq.chat.questions == ("How do I change my password?",)


def test_a_hostile_answer_renders_inert_through_the_page(app, models, fake):
    hostile = ('<script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1)) '
               '<a href="data:text/html,x">d</a> <style>*{display:none}</style> '
               '<div style="position:fixed;inset:0">Log in again</div>')
    fake.script = lambda q: [Facts((Fact("<b>label</b>", "<img src=x onerror=alert(2)>"),)),
                             Delta(hostile), ToolUse("t", "{}", False, "<script>alert(3)</script>"),
                             Done(hostile, "faq", "<i>notice</i>", matched_question="<script>q</script>")]
    view = open_chat(app)
    view.drift.question.value = "<img src=x onerror=alert(4)>"
    view.drift.ask.click()
    view.wait()
    answer = view.drift.chat.exchanges[0][1]
    inert(answer.body.value)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in answer.body.value  # shown as text
    assert "<td>&lt;b&gt;label&lt;/b&gt;</td><td>&lt;img src=x onerror=alert(2)&gt;</td>" in answer.facts.value
    assert "&lt;i&gt;notice&lt;/i&gt;" in answer.notice.value and "<i>" not in answer.notice.value
    # the rest is shown as text, by Label widgets
    texts = labels_text(view)
    assert "<img src=x onerror=alert(4)>" in texts
    assert "Could not look up: <script>alert(3)</script>" in texts
    assert "Answered from the FAQ: <script>q</script>" in texts


def test_closing_the_page_abandons_the_stream(app, models, fake):
    release = threading.Event()
    fake.script = lambda q: [Facts(FACTS), Delta("Half"), release.wait, Delta(" more"), Delta(" and more"),
                             Done("Half more and more", "llm")]
    view = open_chat(app)
    view.drift.question.value = "Long question"
    view.drift.ask.click()
    answer = view.drift.chat.exchanges[0][1]
    eventually(lambda: answer.text == "Half")
    app.open_page("account")  # the chat page closes
    release.set()
    assert fake.closed.wait(10), "the service's iterator was not closed"
    view.wait()
    assert answer.text == "Half"  # nothing drawn after the page closed


# -- with the real service (no LLM endpoint configured: the fallback) --------------------------------
def test_with_no_endpoint_the_real_service_answers_with_the_labelled_summary(app, models):
    view = open_chat(app)
    assert view.intro.text.startswith("No LLM endpoint is configured")
    view.drift.question.value = "Why did drift fire?"
    view.drift.ask.click()
    view.wait()
    answer = view.drift.chat.exchanges[0][1]
    assert answer.notice.text == llm_chat.NO_ENDPOINT
    assert answer.source.value.startswith("Written from the numbers below without an LLM")
    assert answer.text and answer.body.value.startswith("<")
    labels = dict(answer.fact_rows)
    assert len(labels) >= 5 and answer.fold.titles == (f"Numbers used ({len(answer.fact_rows)})",)
    assert any("Fraud detection" in v or "Fraud detection" in k for k, v in answer.fact_rows)


def test_the_real_service_refuses_another_users_model_whatever_the_browser_sends(app, models, ctx, login):
    view = open_chat(app)
    assert view.model.options == ("Fraud detection",)
    with pytest.raises(PermissionDenied):
        llm_chat.ask_about_model(ctx, login(USER), "Not yours", "Why?")
    view.model.options = ("Fraud detection", "Not yours")  # as if the browser could offer it
    view.model.value = "Not yours"
    view.drift.question.value = "Why?"
    view.drift.ask.click()
    view.wait()
    assert "another user" in view.drift.status.value and view.drift.chat.exchanges == ()


def test_the_real_faq_names_the_entry_it_answered_from(app):
    view = open_chat(app)
    view.faq.question.value = "How do I change my password?"
    view.faq.ask.click()
    view.wait()
    answer = view.faq.chat.exchanges[0][1]
    assert answer.source.value.startswith("Answered from the FAQ: ") and answer.text


# -- with the real service and a real OpenAI-compatible server on loopback ---------------------------
@pytest.fixture
def llm_app(ctx, models):
    """The app over ``ctx`` with its LLM endpoint on a loopback OpenAI-compatible test server."""
    from dataclasses import replace

    from tests.support.openai_server import running_openai_server
    from vision_widgets.app import VisionApp
    from vision_widgets.views.base import close_tree

    with running_openai_server() as server:
        settings = replace(ctx.settings, openai_base_url=server.url, openai_api_key="sk-view-test",
                           llm_model="test-model")
        shell = VisionApp(replace(ctx, settings=settings))
        try:
            yield shell, server
        finally:
            close_tree(shell)
            for widget in (shell.header, shell.nav, shell.body):
                close_tree(widget)


def test_the_real_answer_streams_in_progressively_from_the_loopback_llm(llm_app):
    from tests.support.openai_server import answer as streamed

    app, server = llm_app
    server.script(streamed("**amount** drifted most; look at its pipeline first, then distance_from_home_km.",
                           pieces=8, delay=0.25))
    view = open_chat(app)
    assert view.intro.text.startswith(f"Answers are written by test-model at {server.url}")
    shown: list[str] = []
    view.drift.question.value = "Why did drift fire?"
    view.drift.ask.click()
    answer = view.drift.chat.exchanges[0][1]
    answer.body.observe(lambda c: shown.append(c["new"]), "value")
    view.wait()
    assert answer.source.value == "Written by the LLM (test-model)." and answer.notice.layout.display == "none"
    assert "<strong>amount</strong>" in answer.body.value and "distance_from_home_km" in answer.body.value
    partial = [v for v in shown if v and "distance_from_home_km" not in v]
    assert len(partial) >= 2, shown  # several redraws before the end: it filled progressively
    assert dict(answer.fact_rows)["Model"] == "Fraud detection"
    assert "Why did drift fire?" in server.chat_requests[0].raw
    assert "sk-view-test" not in synced_text()  # the key went to the endpoint, never into a widget


def test_leaving_the_page_abandons_a_silent_llm_at_once(llm_app):
    from tests.support.openai_server import hang

    app, server = llm_app
    server.script(hang())
    view = open_chat(app)
    view.drift.question.value = "Why did drift fire?"
    view.drift.ask.click()
    eventually(lambda: server.chat_requests, "the request to reach the LLM")
    started = time.monotonic()
    app.open_page("account")
    view.wait(timeout=10)
    assert not view.busy("drift") and time.monotonic() - started < 5  # not the LLM's 30 s timeout

"""The LLM Chat page: ask about one of your models (drift analysis) or about Vision AI (the FAQ).

Two tabs, each its own conversation: a question box, Ask, example questions as chips, and the
exchanges so far. An answer streams in as the service yields it (``services.llm_chat``: the facts
first, then pieces of text and look-ups, then the end), redrawn at most every
``chat.STREAM_INTERVAL`` seconds; under it a fold lists the numbers it was given, so the reader can
check them. When no LLM answered (none configured, or it failed), the service's notice says so above
the answer and the answer says where it came from (a summary written from the numbers, or the FAQ).

The service's iterator is consumed in a background lane per tab (``PageView.run_in_background``),
never on the kernel's event loop; a second Ask in a tab while an answer streams is refused with a
message. Closing the page (another page, logout, the tab gone) abandons the stream: the service's
answer is closed from the kernel's thread and its reader stops at once, even while the LLM is silent.
Follow-ups carry the visible history; "New conversation" clears it and starts a new conversation id
(the log groups a chat's entries by it). Who may ask about which model is the service's decision:
the picker lists only the principal's models, and the service refuses any other name the browser
might send.
"""
from __future__ import annotations

import threading
import uuid
from typing import Callable, Iterator

import ipywidgets as w

from vision_widgets.components import forms
from vision_widgets.components.chat import Answer, ChatLog, StreamedText
from vision_widgets.components.feedback import StatusMessage
from vision_widgets.components.note import Note
from vision_widgets.services import catalog, llm_chat
from vision_widgets.views.base import PageView, unobserved

DRIFT, FAQ = "drift", "faq"  # the tabs, and their background lanes
DRIFT_EXAMPLES = (
    "Why did drift fire in the latest window?",
    "Which features should I look at first?",
    "Is performance likely to drop?",
    "What changed compared with training?",
)
FAQ_EXAMPLES = (
    "What does PSI mean?",
    "How do I register a restricted model?",
    "Who can see Connectors?",
    "How do I change my password?",
    "What leaves my machine when I run the client notebook?",
)
LABEL_WIDTH = "170px"
BUSY = "Still answering your previous question; ask again when the answer is complete."


def source_line(done: llm_chat.Done, model: str) -> str:
    """Where an answer came from, in words (shown under it)."""
    if done.source == "faq":
        return f"Answered from the FAQ: {done.matched_question}" if done.matched_question else "Answered from the FAQ."
    if done.source == "fallback":
        return "Written from the numbers below without an LLM (a fixed summary, not the LLM's answer)."
    return f"Written by the LLM ({model})." if model else "Written by the LLM."


class ChatPart(w.VBox):
    """One tab: its question box, Ask, examples, conversation, history and conversation id."""

    def __init__(self, key: str, *, label: str, placeholder: str, examples: tuple[str, ...], fold_title: str,
                 empty: str = "") -> None:
        super().__init__()
        self.key = key
        self.fold_title = fold_title
        self.question = w.Textarea(placeholder=placeholder, rows=2, layout=w.Layout(width="560px"))
        forms.label(self.question, label, width=LABEL_WIDTH)
        self.ask = forms.button("Ask", style="primary", icon="paper-plane")
        self.new = forms.button("New conversation", icon="refresh")
        self.status = StatusMessage()
        self.chips = tuple(forms.button(text) for text in examples)
        for chip in self.chips:
            chip.add_class("vision-chip")
        self.examples = w.HBox([w.Label("Try:"), *self.chips], layout=w.Layout(flex_flow="row wrap",
                                                                              align_items="center"))
        self.examples.add_class("vision-chips")
        self.chat = ChatLog(empty)
        self.history: tuple[llm_chat.Turn, ...] = ()
        self.conversation = new_conversation()
        self.form = w.VBox([
            w.HBox([self.question, self.ask], layout=w.Layout(align_items="flex-start", grid_gap="8px")),
            self.examples,
        ])
        self.children = (self.chat, self.status, self.form, w.HBox([self.new]))
        self.add_class(f"vision-chat-part-{key}")

    def restart(self, empty: str | None = None) -> None:
        """A new conversation: no history, a new id, nothing shown."""
        self.history = ()
        self.conversation = new_conversation()
        self.chat.clear(empty)
        self.status.clear()


def new_conversation() -> str:
    """A conversation id (36 characters, the log's column)."""
    return str(uuid.uuid4())


class LlmChatView(PageView):
    """The LLM Chat page (title and purpose: app.PAGES)."""

    def __init__(self, ctx, state, **kwargs) -> None:
        super().__init__(ctx, state, **kwargs)
        self._closing = threading.Event()
        #: The answer each lane is reading (its ``close()`` abandons it from any thread).
        self._reading: dict[str, Iterator] = {}
        self.llm = llm_chat.status(ctx)
        self.intro = Note(self._intro())
        self.intro.add_class("vision-chat-intro")
        # -- drift analysis --
        self.model = w.Dropdown(options=(), layout=w.Layout(width="320px"))
        forms.label(self.model, "Model", width=LABEL_WIDTH)
        self.model.observe(self._on_model, "value")
        self.no_models = Note("", muted=True)
        self.no_models.add_class("vision-empty-state")
        self.no_models.layout.display = "none"
        self.drift = ChatPart(DRIFT, label="Question about the model", examples=DRIFT_EXAMPLES,
                              fold_title="Numbers used",
                              placeholder="Its drift, its features, its performance: e.g. why did drift fire last week?")
        self.drift.children = (self.model, self.no_models, *self.drift.children)
        # -- the FAQ --
        self.faq = ChatPart(FAQ, label="Question about Vision AI", examples=FAQ_EXAMPLES,
                            fold_title="FAQ entries used", placeholder="Pages, roles, drift methods, the client "
                            "notebook: e.g. what does PSI mean?",
                            empty="Questions about Vision AI itself: pages, roles, drift methods, the client "
                            "notebook. Answers come from the FAQ first.")
        for part in (self.drift, self.faq):
            part.ask.on_click(lambda _b, p=part: self.ask(p))
            part.new.on_click(lambda _b, p=part: self.new_conversation(p))
            for chip in part.chips:
                chip.on_click(lambda b, p=part: self.ask(p, b.description))
        self.tabs = w.Tab(children=(self.drift, self.faq))
        self.tabs.titles = ("Drift analysis", "Vision AI FAQ")
        self.children = (self.intro, self.tabs)
        self.refresh()

    def _intro(self) -> str:
        recorded = llm_chat.recording(self.ctx)
        kept = (" Questions and answers are recorded with your account for administrators."
                if recorded else "")
        if not self.llm.configured:
            return ("No LLM endpoint is configured (OPENAI_BASE_URL is not set), so no question goes to an "
                    "LLM: drift questions are answered with a summary written from the model's stored numbers, "
                    "FAQ questions from the FAQ's closest entries." + kept)
        return (f"Answers are written by {self.llm.model} at {self.llm.endpoint} from the model's stored "
                "numbers (never its rows); each answer lists the numbers it was given." + kept)

    # -- the model list ---------------------------------------------------------------------------
    def refresh(self) -> None:
        """Reload the models the principal may ask about (the app's current model first)."""
        found = self.run(self.drift.status, catalog.list_models, self.ctx, self.principal)
        if found is None:
            return
        names = tuple(s.model.name for s in found)
        wanted = self.state.selected_model
        name = wanted if wanted in names else (names[0] if names else None)
        with unobserved(self.model, self._on_model):
            self.model.options = names
            self.model.value = name
        has_models = bool(names)
        self.model.layout.display = "" if has_models else "none"
        self.drift.form.layout.display = "" if has_models else "none"
        self.no_models.text = "" if has_models else (
            "You have no models to ask about yet. Register one (Register model) or ask an administrator to "
            "make you a model's owner; the Vision AI FAQ tab answers questions about the app meanwhile.")
        self.no_models.layout.display = "none" if has_models else ""
        self._name_conversation()

    def _name_conversation(self) -> None:
        if not self.drift.chat.exchanges:
            self.drift.chat.empty.text = (f"Ask about {self.model.value}: its drift, its features, its performance."
                                         if self.model.value else "")
            self.drift.chat.children = (self.drift.chat.empty,) if self.model.value else ()

    def _on_model(self, change) -> None:
        """Another model: its own conversation (a history about one model would mislead about another)."""
        if not change["new"]:
            return
        self.state.selected_model = change["new"]
        if self.drift.chat.exchanges or self.drift.history or self.busy(DRIFT):
            # an answer still streaming is about the old model: close it, then start afresh (its
            # reader ends within ~0.1 s and, its conversation gone, adds nothing to the new history)
            reading = self._reading.get(DRIFT)
            if reading is not None:
                _abandon(reading)
            self.drift.restart()
            self._name_conversation()
        else:
            self._name_conversation()

    # -- asking ------------------------------------------------------------------------------------
    def new_conversation(self, part: ChatPart) -> None:
        """Forget the visible history of ``part`` and start a new conversation id."""
        if self.busy(part.key):
            part.status.error(BUSY)
            return
        part.restart()
        if part is self.drift:
            self._name_conversation()

    def ask(self, part: ChatPart, question: str | None = None) -> bool:
        """Ask ``question`` (or what the box holds) in ``part``; ``True`` if the answer started."""
        if self.busy(part.key):
            part.status.error(BUSY)
            return False
        text = (part.question.value if question is None else question).strip()
        part.status.clear()
        history, conversation = part.history, part.conversation
        if part is self.drift:
            model = self.model.value or ""
            events = lambda: llm_chat.ask_about_model(  # noqa: E731 - called in the background lane
                self.ctx, self.principal, model, text, history, conversation)
        else:
            events = lambda: llm_chat.ask_faq(self.ctx, self.principal, text, history, conversation)  # noqa: E731
        answer = part.chat.ask(text)
        typed = part.question.value
        part.question.value = ""
        part.ask.disabled = True
        started = self.run_in_background(part.status, self._stream, part, text, answer, events, typed,
                                         conversation, lane=part.key)
        if not started:  # refused under the lock (a click racing another)
            part.chat.drop_last()
            part.question.value = typed
            part.ask.disabled = False
        return started

    def _stream(self, part: ChatPart, question: str, answer: Answer,
                events: Callable[[], Iterator], typed: str, conversation: str) -> bool:
        """Consume the service's events into ``answer`` (background lane ``part.key``); the history grows
        only while ``part`` is still in ``conversation`` (another model started a new one meanwhile)."""
        stream = StreamedText(answer.show_text).start()
        began = False
        iterator = None
        try:
            iterator = self._reading[part.key] = events()
            for event in iterator:
                if self._closing.is_set():
                    break  # the page closed: abandon the stream (finally closes the iterator)
                began = True
                if isinstance(event, llm_chat.Facts):
                    answer.show_facts(event.facts, part.fold_title)
                elif isinstance(event, llm_chat.Delta):
                    stream.add(event.text)
                elif isinstance(event, llm_chat.ToolUse):
                    stream.flush()
                    answer.add_tool(("Looked up: " if event.ok else "Could not look up: ") + event.summary,
                                    ok=event.ok)
                elif isinstance(event, llm_chat.Done):
                    stream.stop()
                    answer.finish(event.answer or stream.text, source_line(event, self.llm.model), event.notice)
                    if part.conversation == conversation:
                        part.history = (*part.history, llm_chat.Turn("user", question),
                                        llm_chat.Turn("assistant", event.answer or stream.text))
                    return True
            if not self._closing.is_set() and part.conversation == conversation:
                stream.stop()
                answer.stopped("The answer ended before it was complete.")
            return True
        except BaseException:
            stream.stop(flush=began)
            if part.conversation != conversation:  # a new conversation replaced this one: nothing to mend
                pass
            elif not began and not self._closing.is_set():  # refused before any answer: as if never asked
                part.chat.drop_last()
                if not part.question.value:
                    part.question.value = typed
            elif not self._closing.is_set():
                answer.stopped("The answer stopped here: an error ended it.")
            raise
        finally:
            stream.stop(flush=False)
            if self._reading.get(part.key) is iterator:
                self._reading.pop(part.key, None)
            if iterator is not None:
                _abandon(iterator)
            if not self._closing.is_set():
                part.ask.disabled = False

    # -- closing -----------------------------------------------------------------------------------
    def close(self) -> None:
        """Abandon any answer still streaming (its reader stops at once, even while the LLM is silent),
        then close every widget."""
        self._closing.set()
        for iterator in list(self._reading.values()):
            _abandon(iterator)
        super().close()


def _abandon(iterator: Iterator) -> None:
    """Close an answer's iterator; a plain generator running in another thread refuses (the closing
    flag stops its reader at the next event instead)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        try:
            close()
        except ValueError:  # "generator already executing"
            pass


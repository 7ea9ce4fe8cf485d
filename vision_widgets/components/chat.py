"""A conversation on screen: the person's questions and the answers, each answer with its notice,
the look-ups made for it, the answer itself (Markdown, sanitised) and a folded list of the numbers
it was given.

Only widgets here: the LLM Chat page (views/llm_chat.py) feeds them from the service's events.
Every text that did not come from this file — questions, facts, tool summaries, notices, the FAQ's
matched question — is shown through ``Label``/``Note``/``SafeTable`` (escaped); the answer goes
through ``components.markdown`` (rendered, then sanitised).

``StreamedText`` batches a fast stream: pieces are collected as they come and the widget is
redrawn at most every ``interval`` seconds by a ticker thread, so a model streaming 200 tokens a
second sends the browser ~12 updates a second, not 200, and a pause in the stream still shows
everything received before it.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterable, Sequence

import ipywidgets as w

from vision_widgets.components.markdown import MarkdownView
from vision_widgets.components.note import Note
from vision_widgets.components.safe_html import SafeTable

FACT_COLUMNS = ("What", "Value")
#: Seconds between two redraws of an answer while it streams.
STREAM_INTERVAL = 0.08


class StreamedText:
    """Collect streamed pieces; ``show(text_so_far)`` is called at most every ``interval`` seconds.

    ``start()`` the ticker, ``add(piece)`` from the consuming thread, ``stop()`` at the end (it
    shows what is left and waits for the ticker, so nothing is drawn after it returns).
    """

    def __init__(self, show: Callable[[str], None], interval: float = STREAM_INTERVAL) -> None:
        self._show = show
        self.interval = interval
        self._parts: list[str] = []
        self._dirty = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="vision-chat-stream", daemon=True)
        #: How many times the widget was redrawn (tests and the benchmark read it).
        self.redraws = 0

    @property
    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)

    def start(self) -> "StreamedText":
        self._ticker.start()
        return self

    def add(self, piece: str) -> None:
        if piece:
            with self._lock:
                self._parts.append(piece)
                self._dirty = True

    def flush(self) -> None:
        """Show what has arrived, if anything is new."""
        with self._lock:
            if not self._dirty:
                return
            self._dirty = False
            text = "".join(self._parts)
        self.redraws += 1
        self._show(text)

    def _tick(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def stop(self, flush: bool = True) -> None:
        self._stop.set()
        if self._ticker.is_alive() and self._ticker is not threading.current_thread():
            self._ticker.join()
        if flush:
            self.flush()


class Answer(w.VBox):
    """One answer: notice, look-ups, the text (streamed), where it came from, the numbers used."""

    def __init__(self, waiting: str = "Thinking…") -> None:
        super().__init__()
        self.add_class("vision-chat-answer")
        self.notice = Note("")
        self.notice.add_class("vision-chat-notice")
        self.notice.layout.display = "none"
        self.tools = w.VBox()
        self.tools.add_class("vision-chat-tools")
        self.waiting = w.Label(waiting)
        self.waiting.add_class("vision-muted")
        self.body = MarkdownView()
        self.source = w.Label("")
        self.source.add_class("vision-muted")
        self.source.layout.display = "none"
        self.facts = SafeTable(FACT_COLUMNS, empty="No numbers were used.")
        self.fold = w.Accordion(children=(self.facts,), selected_index=None)
        self.fold.titles = ("Numbers used",)
        self.fold.add_class("vision-chat-facts")
        self.fold.layout.display = "none"
        self.children = (self.notice, self.tools, self.waiting, self.body, self.source, self.fold)
        self.fact_rows: tuple[tuple[str, str], ...] = ()

    def show_facts(self, facts: Iterable, title: str = "Numbers used") -> None:
        """The numbers the answer was given (``Fact``s: label, value), folded under it as ``title (n)``."""
        self.fact_rows = tuple((f.label, f.value) for f in facts)
        self.facts.update(self.fact_rows)
        self.fold.titles = (f"{title} ({len(self.fact_rows)})",)
        self.fold.layout.display = "" if self.fact_rows else "none"

    def add_tool(self, line: str, ok: bool = True) -> None:
        """A look-up made for this answer, as one small line."""
        label = w.Label(line)
        label.add_class("vision-chat-tool" if ok else "vision-chat-tool-refused")
        self.tools.children = (*self.tools.children, label)

    def show_text(self, markdown: str) -> None:
        if markdown and self.waiting.layout.display != "none":
            self.waiting.layout.display = "none"
        self.body.show(markdown)

    def show_notice(self, text: str) -> None:
        self.notice.text = text
        self.notice.layout.display = "" if text else "none"

    def finish(self, answer: str, source_line: str = "", notice: str = "") -> None:
        """The answer is complete: its final text, where it came from, and any notice."""
        with self.hold_sync():
            if notice:
                self.show_notice(notice)
            self.waiting.layout.display = "none"
            self.body.show(answer)
            self.source.value = source_line
            self.source.layout.display = "" if source_line else "none"

    def stopped(self, why: str) -> None:
        """The answer ended before it was complete (page closed, an error): say so."""
        self.waiting.value = why
        self.waiting.layout.display = ""

    @property
    def text(self) -> str:
        """The answer's Markdown as shown."""
        return self.body.markdown

    def close(self) -> None:
        """Close the answer and every widget in it (``Box.close`` leaves children open)."""
        for line in self.tools.children:
            line.close()
        for widget in (self.notice, self.tools, self.waiting, self.body, self.source, self.facts, self.fold):
            widget.close()
        super().close()


class ChatLog(w.VBox):
    """The conversation: question, answer, question, answer … (``ask`` adds one exchange)."""

    def __init__(self, empty: str = "") -> None:
        super().__init__()
        self.add_class("vision-chat")
        self.empty = Note(empty, muted=True)
        self.children = (self.empty,) if empty else ()
        self.exchanges: tuple[tuple[w.Label, Answer], ...] = ()

    def ask(self, question: str, waiting: str = "Thinking…") -> Answer:
        """Show ``question`` and an empty answer under it; the caller fills the answer."""
        asked = w.Label(question)
        asked.add_class("vision-chat-question")
        answer = Answer(waiting)
        self.exchanges = (*self.exchanges, (asked, answer))
        self.children = tuple(c for pair in self.exchanges for c in pair)
        return answer

    def drop_last(self) -> None:
        """Remove the last exchange (its question was refused before any answer)."""
        if not self.exchanges:
            return
        *keep, (asked, answer) = self.exchanges
        self.exchanges = tuple(keep)
        self.children = tuple(c for pair in self.exchanges for c in pair) or self._empty_children()
        asked.close()
        answer.close()

    def clear(self, empty: str | None = None) -> None:
        """Start afresh: every exchange goes (and is closed)."""
        old = self.exchanges
        self.exchanges = ()
        if empty is not None:
            self.empty.text = empty
        self.children = self._empty_children()
        for asked, answer in old:
            asked.close()
            answer.close()

    def _empty_children(self) -> tuple:
        return (self.empty,) if self.empty.text else ()

    @property
    def questions(self) -> Sequence[str]:
        return tuple(asked.value for asked, _ in self.exchanges)

"""LLM Chat: questions about a model answered from its own stored numbers, and the Vision AI FAQ.

The agreed interface of the page (views/llm_chat.py):

- ``ask_about_model(ctx, principal, model_name, question, history, conversation)`` and
  ``ask_faq(ctx, principal, question, history, conversation)`` check everything a person can act on
  *before* they return (``InvalidInput`` for an empty or over-long question, ``NotFound``,
  ``PermissionDenied``) and return an iterator of events: ``Facts`` once first, then ``Delta`` /
  ``ToolUse``, then ``Done`` once last. The concatenated ``Delta`` texts always equal ``Done.answer``.
- An LLM that is not configured, fails, or is too slow never raises: the answer ends in the
  deterministic summary (``Done(source="fallback", notice=...)``) within ``VISION_LLM_TIMEOUT``.
- The iterator (an ``Answer``) is meant to be consumed in a background thread; ``close()`` may be
  called from any thread, also while that thread waits in ``next()``: its ``next()`` then ends within
  ~0.1 s (``StopIteration``, no ``Done``) and nothing else waits on the endpoint.
- Every prompt, tool call and answer is written to ``llm_log`` unless an admin turned recording off.

Permissions: asking about a model needs to be allowed to open it (``rbac.can_view_model``: users
their own, admins all), checked by the Drift and estimation services this module reads
through; the tools the LLM calls go through the same services with the same principal. The FAQ is
open to every logged-in account. The log and the recording switch are for ``READ_LLM_LOG`` (admins).
"""
from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass
from typing import Callable, Iterator, Sequence

from vision_widgets.core import audit
from vision_widgets.core.context import Context
from vision_widgets.core.errors import InvalidInput, VisionError
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.llm import client, faq, log, summary, tools
from vision_widgets.core.llm.client import Cancelled, Endpoint, LlmFailure, endpoint_of, estimate_tokens
from vision_widgets.core.llm.context import ModelContext, build
from vision_widgets.core.llm.events import (
    ASSISTANT, SOURCE_FALLBACK, SOURCE_FAQ, SOURCE_LLM, USER, Delta, Done, Fact, Facts, ToolUse, Turn,
)
from vision_widgets.core.llm.log import LogEntry
from vision_widgets.services import drift_page, estimation
from vision_widgets.services.sessions import acting

__all__ = ["Fact", "Turn", "Facts", "Delta", "ToolUse", "Done", "Answer", "LlmStatus", "LogEntry", "status",
           "ask_about_model", "ask_faq", "log_entries", "set_recording", "recording", "MAX_QUESTION"]

#: Characters a question may have.
MAX_QUESTION = 2000
#: Tokens of earlier conversation sent with a follow-up (the oldest turns go first).
HISTORY_TOKENS = 1500

NO_ENDPOINT = ("No LLM endpoint is configured (OPENAI_BASE_URL), so this answer was written from the stored "
               "numbers without an LLM.")
FAQ_NO_ENDPOINT = ("No LLM endpoint is configured (OPENAI_BASE_URL), so no entry matched closely enough and "
                   "the closest FAQ entries are shown.")

FAQ_PREAMBLE = ("You answer questions about Vision AI, a model-monitoring dashboard, for its users. Use only the "
                "FAQ entries below; if they do not answer the question, say you do not know and suggest asking an "
                "administrator. Answer in Markdown, briefly.")


@dataclass(frozen=True)
class LlmStatus:
    """Whether an LLM is configured, where (a base URL without credentials) and which model."""

    configured: bool
    endpoint: str
    model: str


class Answer:
    """The events of one answer: an iterator whose ``close()`` may be called from any thread.

    The page reads it in a background thread; when the person leaves or asks something else, the
    page calls ``close()`` from the kernel's thread while that background thread may be waiting inside
    ``next()`` (a generator cannot be closed while it runs). So ``close()`` sets a flag the wait checks
    every ``client.CANCEL_POLL`` seconds: the reading thread's ``next()`` then ends (``StopIteration``)
    at once, whatever the endpoint does, and the request's own thread is left to end by itself.
    """

    def __init__(self, make: Callable[[threading.Event], Iterator]) -> None:
        self._cancel = threading.Event()
        self._events = make(self._cancel)

    def __iter__(self) -> "Answer":
        return self

    def __next__(self):
        if self._cancel.is_set():
            raise StopIteration
        return next(self._events)

    def close(self) -> None:
        """Abandon the answer (idempotent; safe from any thread, also while another thread reads it)."""
        self._cancel.set()
        try:
            self._events.close()
        except ValueError:  # "generator already executing" in the reading thread: the flag ends it
            pass

    @property
    def closed(self) -> bool:
        return self._cancel.is_set()


def status(ctx: Context) -> LlmStatus:
    """The configured endpoint, as the page and the Monitoring tile name it (no key, no credentials)."""
    ep = endpoint_of(ctx.settings)
    if ep is None:
        return LlmStatus(False, "", ctx.settings.llm_model)
    return LlmStatus(True, ep.public, ep.model)


# --------------------------------------------------------------------------------------------
# Recording
# --------------------------------------------------------------------------------------------
def recording(ctx: Context) -> bool:
    """Whether prompts and answers are recorded (the ``llm.record`` setting; on by default)."""
    with ctx.store.read() as conn:
        return log.recording(conn)


def set_recording(ctx: Context, principal: Principal, on: bool) -> None:
    """Turn recording of prompts and answers on or off (admins; audited)."""
    me = acting(ctx, principal, Permission.READ_LLM_LOG)
    with ctx.store.write() as conn:
        log.set_recording(conn, on, me.username, ctx.now())
        audit.record(conn, ctx.now(), me.username, "LLM chat recording " + ("on" if on else "off"), log.RECORD_KEY)


def log_entries(ctx: Context, principal: Principal, limit: int = 200, username: str | None = None) -> list[LogEntry]:
    """The newest recorded prompts, tool calls and answers, newest first (admins)."""
    acting(ctx, principal, Permission.READ_LLM_LOG)
    if limit < 1:
        raise InvalidInput("The limit must be at least 1.", field="limit")
    with ctx.store.read() as conn:
        return log.entries(conn, min(limit, 10_000), username or None)


class _Recorder:
    """Writes one conversation's rows, if recording is on when the question is asked."""

    def __init__(self, ctx: Context, username: str, conversation: str, model: str, endpoint: str) -> None:
        self.ctx, self.username, self.conversation, self.model, self.endpoint = ctx, username, conversation, model, endpoint
        self.on = recording(ctx)

    def __call__(self, kind: str, content: str, endpoint: str | None = None) -> None:
        if not self.on:
            return
        with self.ctx.store.write() as conn:
            log.write(conn, self.ctx.now(), self.conversation, self.username, self.model,
                      self.endpoint if endpoint is None else endpoint, kind, content)


# --------------------------------------------------------------------------------------------
# Asking
# --------------------------------------------------------------------------------------------
def _question(question: str) -> str:
    q = (question or "").strip()
    if not q:
        raise InvalidInput("Type a question first.", field="question")
    if len(q) > MAX_QUESTION:
        raise InvalidInput(f"The question is {len(q):,} characters long; keep it under {MAX_QUESTION:,}.",
                           field="question")
    return q


def _history(history: Sequence[Turn]) -> list[dict]:
    """The most recent turns that fit ``HISTORY_TOKENS``, oldest first, as chat messages."""
    out: list[dict] = []
    used = 0
    for turn in reversed(tuple(history)):
        if turn.role not in (USER, ASSISTANT) or not turn.content:
            continue
        cost = estimate_tokens(turn.content)
        if used + cost > HISTORY_TOKENS:
            break
        out.append({"role": turn.role, "content": turn.content})
        used += cost
    return out[::-1]


def _model_context(ctx: Context, me: Principal, model_name: str) -> tuple[ModelContext, object]:
    # The Drift page's and the estimation's services: the stored reports, not a drift recomputed (Model 360
    # recomputes the latest batch's, seconds for a wide model); NotFound, PermissionDenied from here.
    overview = drift_page.drift_overview(ctx, me, model_name)
    try:
        perf = estimation.performance_over_time(ctx, me, model_name)
    except VisionError:
        perf = None
    return build(overview, perf, ctx.settings.llm_context_tokens), overview


def ask_about_model(ctx: Context, principal: Principal, model_name: str, question: str,
                    history: Sequence[Turn] = (), conversation: str = "") -> Answer:
    """Ask about one model; the answer is grounded in its stored numbers (see the module docstring).

    Raises, before any event: ``InvalidInput`` (empty or over-long question), ``NotFound`` (no such
    model), ``PermissionDenied`` (a model the principal may not open), ``SessionExpired``.
    """
    q = _question(question)
    me = sessions.authenticate(ctx, principal)
    mctx, overview = _model_context(ctx, me, model_name)
    name = overview.model.name
    endpoint = endpoint_of(ctx.settings)
    rec = _Recorder(ctx, me.username, conversation or str(uuid.uuid4()), name, endpoint.public if endpoint else "")
    loaded = {name: overview}

    def load(model: str):
        # the asking principal's own view: PermissionDenied / NotFound for a model they may not open
        if model not in loaded:
            loaded[model] = drift_page.drift_overview(ctx, me, model)
        return loaded[model]

    def events(cancel: threading.Event) -> Iterator[Facts | Delta | ToolUse | Done]:
        yield Facts(mctx.facts)
        rec(log.PROMPT, q)
        if endpoint is None:
            text = summary.model_summary(mctx)
            rec(log.FALLBACK, text, "")
            yield Delta(text)
            yield Done(text, SOURCE_FALLBACK, NO_ENDPOINT)
            return
        messages = [{"role": "system", "content": mctx.text}, *_history(history), {"role": "user", "content": q}]
        yield from _converse(endpoint, messages, rec, lambda: summary.model_summary(mctx), cancel,
                             run_tool=lambda call: tools.run(call, load))

    return Answer(events)


def _converse(endpoint: Endpoint, messages: list[dict], rec: _Recorder, fallback, cancel: threading.Event,
              run_tool=None) -> Iterator[Delta | ToolUse | Done]:
    """Stream the LLM's answer; on failure, append the fallback. Deltas always add up to ``Done.answer``."""
    pieces: list[str] = []
    try:
        for item in client.converse(endpoint, messages, tools.SCHEMAS if run_tool else (), run_tool, cancel=cancel):
            if isinstance(item, str):
                pieces.append(item)
                yield Delta(item)
            else:
                call, result = item
                rec(log.TOOL_CALL, json.dumps({"name": call.name, "arguments": call.arguments, "ok": result.ok,
                                               "result": result.summary}))
                yield ToolUse(call.name, call.arguments, result.ok, result.summary)
    except Cancelled:
        if pieces:  # what the person saw before leaving
            rec(log.ANSWER, "".join(pieces) + "\n\n[stopped before the end]")
        return
    except LlmFailure as exc:
        text = fallback()
        if pieces:
            text = "\n\n---\n\n" + text
        pieces.append(text)
        answer = "".join(pieces)
        rec(log.FALLBACK, answer)
        yield Delta(text)
        written = "this answer was written from the stored numbers without the LLM." if run_tool else \
            "the closest FAQ entries are shown instead."
        yield Done(answer, SOURCE_FALLBACK, f"{exc} Part of the answer may be missing; {written}"
                   if exc.streamed else f"{exc} So {written}")
        return
    answer = "".join(pieces)
    rec(log.ANSWER, answer)
    yield Done(answer, SOURCE_LLM)


def ask_faq(ctx: Context, principal: Principal, question: str, history: Sequence[Turn] = (),
            conversation: str = "") -> Answer:
    """Ask the Vision AI FAQ: a close match is answered from the FAQ file (``source="faq"``, with the
    matched question); otherwise the LLM answers from the closest entries, or, without one, they are
    shown (``source="fallback"``). Any logged-in account may ask."""
    q = _question(question)
    me = sessions.authenticate(ctx, principal)
    book = faq.load()
    hit = book.match(q)
    closest = [hit] if hit else book.search(q)
    endpoint = endpoint_of(ctx.settings)
    rec = _Recorder(ctx, me.username, conversation or str(uuid.uuid4()), "",
                    endpoint.public if (endpoint and not hit) else "")
    entries = [(h.entry.question, h.entry.answer) for h in closest]

    def events(cancel: threading.Event) -> Iterator[Facts | Delta | Done]:
        yield Facts(tuple(Fact("FAQ entry", question_) for question_, _ in entries))
        rec(log.PROMPT, q)
        if hit is not None:
            rec(log.FAQ, hit.entry.answer)
            yield Delta(hit.entry.answer)
            yield Done(hit.entry.answer, SOURCE_FAQ, matched_question=hit.entry.question)
            return
        if endpoint is None:
            text = summary.faq_fallback(entries)
            rec(log.FALLBACK, text)
            yield Delta(text)
            yield Done(text, SOURCE_FALLBACK, FAQ_NO_ENDPOINT)
            return
        system = FAQ_PREAMBLE + "\n\n" + "\n\n".join(f"Q: {a}\nA: {b}" for a, b in entries)
        messages = [{"role": "system", "content": system}, *_history(history), {"role": "user", "content": q}]
        yield from _converse(endpoint, messages, rec, lambda: summary.faq_fallback(entries), cancel)

    return Answer(events)

"""The client of any OpenAI-compatible chat-completions endpoint (OpenAI, Ollama, vLLM, llama.cpp …).

Why it looks like this:

- **A hard deadline for the whole answer.** The ``openai`` package's timeouts are per socket
  operation: an endpoint that trickles a byte a second never trips them. So each request runs in a
  daemon thread that feeds a queue, and the caller waits on the queue with what is left of
  ``llm_timeout``; past it the answer ends (the thread is told to stop and its response closed),
  whatever the endpoint does. The same mechanism makes the generator safe to abandon part-way.
- **Bounded retries, never after the first token.** A request that fails before anything was
  streamed (refused connection, HTTP 5xx/429) is tried again up to ``llm_retries`` times while time
  is left; once a token has been shown, a retry would repeat or contradict it, so a failure then
  ends the answer. The ``openai`` package's own retries are off (``max_retries=0``).
- **Tool calls** follow the chat-completions ``tools`` protocol, at most ``MAX_TOOL_ROUNDS``
  rounds of at most ``MAX_TOOL_CALLS`` calls each; the last round is offered no tools, so the model
  has to answer.
- **Servers without tools.** Many local servers refuse a request that carries ``tools`` with HTTP
  400/422 (vLLM without ``--enable-auto-tool-choice``, Ollama models without tool support). Such a
  refusal before the first token is answered by asking once more without tools; when that works, the
  endpoint (base URL + model) is remembered for the life of the process and offered no tools again.
  ``VISION_LLM_TOOLS=off`` says so up front. (A per-process memo of what a server can do, not shared
  state: every process finds it out by itself in one extra request.)
- **The key is a secret.** It lives in ``Endpoint.api_key`` (not in its repr), goes only in the
  request's header, and no message here is built from an exception's text (which may echo a URL
  or a header); messages name the endpoint by its address without credentials.
"""
from __future__ import annotations

import json
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

from vision_widgets.core.config import Settings

#: The OpenAI API, when only ``OPENAI_API_KEY`` is set.
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
#: Rounds of tool calls in one answer (each round: the model asks, the tools answer).
MAX_TOOL_ROUNDS = 4
#: Characters per token, to estimate a text's size without a tokenizer (English prose and numbers).
CHARS_PER_TOKEN = 4
#: Tool calls run in one round; the model's further calls in that round are answered with a tool error.
MAX_TOOL_CALLS = 8
#: The name of the one ``(call, result)`` that stands for a round's calls beyond ``MAX_TOOL_CALLS``.
SKIPPED = "(not run)"
#: HTTP statuses with which servers refuse the ``tools`` field they do not support.
TOOLS_REFUSED = (400, 422)
#: Seconds between two tries of a request that failed before its first token.
RETRY_PAUSE = 0.25


def estimate_tokens(text: str) -> int:
    """Tokens ``text`` takes, estimated cheaply (~4 characters a token; no tokenizer to download)."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def public_url(url: str) -> str:
    """``url`` without its userinfo, query or fragment (where credentials hide): safe to log and show."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        netloc = f"{host}:{parts.port}" if parts.port else host
        return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
    except ValueError:
        return "the configured address"


@dataclass(frozen=True)
class Endpoint:
    """Where and how to ask: an OpenAI-compatible base URL, the model's name, timeouts and retries."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    connect_timeout: float = 5.0
    timeout: float = 30.0
    retries: int = 1
    #: whether tools may be offered (``VISION_LLM_TOOLS``); see also ``offers_tools``
    tools: bool = True

    @property
    def public(self) -> str:
        """The base URL without credentials (what the log records and messages name)."""
        return public_url(self.base_url)


def endpoint_of(settings: Settings) -> Endpoint | None:
    """The configured endpoint: ``OPENAI_BASE_URL``, else the OpenAI API when ``OPENAI_API_KEY`` is set;
    None when neither is (the chat then answers without an LLM)."""
    base = settings.openai_base_url or (OPENAI_DEFAULT_URL if settings.openai_api_key else None)
    if not base:
        return None
    return Endpoint(base, settings.llm_model, settings.openai_api_key, settings.llm_connect_timeout,
                    settings.llm_timeout, settings.llm_retries, settings.llm_tools)


#: Endpoints (public base URL, model) that refused a request carrying ``tools`` and answered without.
_NO_TOOLS: set[tuple[str, str]] = set()
_NO_TOOLS_LOCK = threading.Lock()


def offers_tools(endpoint: Endpoint) -> bool:
    """Whether requests to ``endpoint`` carry ``tools``: allowed by the settings, and not refused before."""
    with _NO_TOOLS_LOCK:
        return endpoint.tools and (endpoint.public, endpoint.model) not in _NO_TOOLS


def _refuses_tools(endpoint: Endpoint) -> None:
    with _NO_TOOLS_LOCK:
        _NO_TOOLS.add((endpoint.public, endpoint.model))


class LlmFailure(Exception):
    """The endpoint did not give an answer; the message is a plain sentence naming it (never a key)."""

    def __init__(self, message: str, streamed: bool = False) -> None:
        super().__init__(message)
        #: whether part of the answer had already been streamed when it failed
        self.streamed = streamed


@dataclass(frozen=True)
class ToolCall:
    """One call the model asked for: ``arguments`` is its JSON text, as sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    """What a tool answered (JSON text, returned to the model), and a line for the user."""

    content: str
    ok: bool
    summary: str


# --------------------------------------------------------------------------------------------
# One request, in a thread, read with a deadline
# --------------------------------------------------------------------------------------------
def _client(endpoint: Endpoint, remaining: float):
    from openai import OpenAI, Timeout

    # The package refuses to start without a key; local servers (Ollama, vLLM) need none.
    return OpenAI(base_url=endpoint.base_url, api_key=endpoint.api_key or "no-key", max_retries=0,
                  timeout=Timeout(remaining, connect=min(endpoint.connect_timeout, remaining)))


def _request(endpoint: Endpoint, messages: list[dict], tools: Sequence[dict] | None, remaining: float,
             out: "queue.Queue[tuple[str, Any]]", stop: threading.Event) -> None:
    """Stream one chat completion into ``out``: ("chunk", c)…, then ("end", None) or ("error", exc)."""
    stream = None
    try:
        client = _client(endpoint, remaining)
        kwargs: dict[str, Any] = {"model": endpoint.model, "messages": messages, "stream": True}
        if tools:
            kwargs["tools"] = list(tools)
        stream = client.chat.completions.create(**kwargs)
        for chunk in stream:
            if stop.is_set():
                return
            out.put(("chunk", chunk))
        out.put(("end", None))
    except BaseException as exc:  # noqa: BLE001 - handed to the reader, which words it
        out.put(("error", exc))
    finally:
        if stream is not None:
            try:
                stream.close()
            except Exception:  # noqa: BLE001 - closing a broken stream
                pass


def _why(exc: BaseException, endpoint: Endpoint) -> tuple[str, bool]:
    """A plain sentence for a failed request, and whether another try may help. Never the exception's text."""
    import openai

    where = endpoint.public
    if isinstance(exc, openai.APITimeoutError):
        return f"The LLM at {where} did not answer within {endpoint.timeout:g} s.", False
    if isinstance(exc, openai.APIConnectionError):
        return f"The LLM at {where} cannot be reached (connection failed).", True
    if isinstance(exc, openai.APIStatusError):
        code = exc.status_code
        if code in (401, 403):
            return f"The LLM at {where} refused the API key (HTTP {code}); check OPENAI_API_KEY.", False
        if code == 404:
            return (f"The LLM at {where} does not know the model {endpoint.model!r} or the address is wrong "
                    "(HTTP 404); check VISION_LLM_MODEL and OPENAI_BASE_URL.", False)
        return f"The LLM at {where} answered HTTP {code}.", code >= 500 or code == 429
    return f"The LLM at {where} sent an answer that could not be read ({type(exc).__name__}).", False


def _timed_out(endpoint: Endpoint) -> str:
    return f"The LLM at {endpoint.public} did not answer within {endpoint.timeout:g} s."


class Cancelled(Exception):
    """The caller stopped waiting (``cancel`` was set): the answer is abandoned, nothing more comes."""


#: How often a wait checks whether the caller cancelled, seconds.
CANCEL_POLL = 0.1


def stream_completion(endpoint: Endpoint, messages: list[dict], tools: Sequence[dict] | None,
                      deadline: float, cancel: threading.Event | None = None) -> Iterator[str | list[ToolCall]]:
    """One chat completion, streamed: text pieces as they come, then the tool calls asked for (a list,
    possibly empty) last. Raises ``LlmFailure`` (after bounded retries before the first token) or when
    ``deadline`` (``time.monotonic()``) passes; ``Cancelled`` within ``CANCEL_POLL`` s of ``cancel`` being set
    (from any thread).

    A refusal with HTTP 400/422 before the first token while ``tools`` were offered is asked again at
    once without tools; if that answers, the endpoint is remembered as one without tools
    (``offers_tools``)."""
    import openai

    attempt = 0
    dropped_tools = False
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise LlmFailure(_timed_out(endpoint))
        out: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        stop = threading.Event()
        worker = threading.Thread(target=_request, args=(endpoint, messages, tools, remaining, out, stop),
                                  name="vision-llm-request", daemon=True)
        worker.start()
        streamed = retry_now = False
        calls: dict[int, dict[str, str]] = {}
        try:
            while True:
                if cancel is not None and cancel.is_set():
                    raise Cancelled()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise LlmFailure(_timed_out(endpoint), streamed)
                try:
                    kind, item = out.get(timeout=min(remaining, CANCEL_POLL) if cancel is not None else remaining)
                except queue.Empty:
                    continue
                if dropped_tools and kind != "error":  # the request without tools was accepted: remember it
                    _refuses_tools(endpoint)
                    dropped_tools = False
                if kind == "end":
                    yield [ToolCall(c["id"] or f"call_{i}", c["name"], c["arguments"] or "{}")
                           for i, c in sorted(calls.items())]
                    return
                if kind == "error":
                    if (tools and not streamed and isinstance(item, openai.APIStatusError)
                            and item.status_code in TOOLS_REFUSED):
                        tools, dropped_tools, retry_now = None, True, True
                        break  # ask again at once, without tools
                    message, retry = _why(item, endpoint)
                    if streamed or not retry or attempt >= endpoint.retries:
                        raise LlmFailure(message, streamed)
                    break  # try again
                for choice in getattr(item, "choices", None) or ():
                    delta = choice.delta
                    if delta is None:
                        continue
                    for tc in delta.tool_calls or ():
                        streamed = True
                        index = tc.index
                        if index is None:  # some servers send each call whole, without an index
                            last = max(calls, default=-1)
                            index = last + 1 if last < 0 or (tc.id and calls[last]["id"] != tc.id) else last
                        slot = calls.setdefault(index, {"id": "", "name": "", "arguments": ""})
                        if tc.id:
                            slot["id"] = tc.id
                        if tc.function is not None:
                            slot["name"] += tc.function.name or ""
                            slot["arguments"] += tc.function.arguments or ""
                    if delta.content:
                        streamed = True
                        yield delta.content
        finally:
            stop.set()  # an abandoned or failed request's thread stops at its next chunk
        if retry_now:
            continue
        attempt += 1
        time.sleep(min(RETRY_PAUSE, max(deadline - time.monotonic(), 0)))


def converse(endpoint: Endpoint, messages: list[dict], tools: Sequence[dict] = (),
             run_tool: Callable[[ToolCall], ToolResult] | None = None,
             on_tool: Callable[[ToolCall, ToolResult], None] | None = None,
             cancel: threading.Event | None = None) -> Iterator[str | tuple[ToolCall, ToolResult]]:
    """Ask, letting the model call ``tools`` (run by ``run_tool``) for up to ``MAX_TOOL_ROUNDS`` rounds.

    Yields the answer's text pieces as they stream, and ``(call, result)`` for each tool call made.
    At most ``MAX_TOOL_CALLS`` calls of one round are run; the model is told the rest were not, and
    one ``(call, result)`` with ``call.name == SKIPPED`` says how many. Tools are offered only while
    ``offers_tools(endpoint)``.
    The whole exchange, tool rounds and retries included, ends within ``endpoint.timeout`` seconds;
    ``LlmFailure`` says why it did not finish; ``Cancelled`` when ``cancel`` was set (also checked
    between two tool calls).
    """
    import openai  # noqa: F401 - loaded before the clock starts: a first import takes seconds on a busy machine

    deadline = time.monotonic() + endpoint.timeout
    messages = list(messages)
    shown = False
    for round_ in range(MAX_TOOL_ROUNDS + 1):
        offer = tools if (tools and run_tool is not None and round_ < MAX_TOOL_ROUNDS
                          and offers_tools(endpoint)) else None
        calls: list[ToolCall] = []
        text = []
        for piece in stream_completion(endpoint, messages, offer, deadline, cancel):
            if isinstance(piece, list):
                calls = piece
            else:
                text.append(piece)
                shown = True
                yield piece
        if not calls or offer is None:
            return
        messages.append({"role": "assistant", "content": "".join(text) or None,
                         "tool_calls": [{"id": c.id, "type": "function",
                                         "function": {"name": c.name, "arguments": c.arguments}} for c in calls]})
        for call in calls[:MAX_TOOL_CALLS]:
            if cancel is not None and cancel.is_set():
                raise Cancelled()
            if time.monotonic() >= deadline:
                raise LlmFailure(_timed_out(endpoint), shown)
            result = run_tool(call)
            if on_tool is not None:
                on_tool(call, result)
            shown = True
            yield call, result
            messages.append({"role": "tool", "tool_call_id": call.id, "content": result.content})
        skipped = calls[MAX_TOOL_CALLS:]
        if skipped:
            refusal = tool_error(f"Not run: at most {MAX_TOOL_CALLS} tool calls are run in one round; "
                                 "ask for the ones that matter most.")
            for call in skipped:  # the protocol wants an answer to every call
                messages.append({"role": "tool", "tool_call_id": call.id, "content": refusal.content})
            note = ToolCall("", SKIPPED, json.dumps({"calls": len(skipped)}))
            result = tool_error(f"{len(skipped)} more tool call(s) in this round were not run "
                                f"(at most {MAX_TOOL_CALLS} a round).")
            if on_tool is not None:
                on_tool(note, result)
            yield note, result


def tool_error(message: str) -> ToolResult:
    """A refused or failed tool call, as the model reads it (and the user sees it)."""
    return ToolResult(json.dumps({"error": message}), False, message)

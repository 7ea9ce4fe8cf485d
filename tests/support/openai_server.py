"""A real HTTP server on 127.0.0.1 that speaks the OpenAI chat-completions protocol, for tests.

It streams Server-Sent Events exactly as OpenAI, vLLM and Ollama's compatible API do
(``data: {chunk}\\n\\n`` … ``data: [DONE]``), including ``tool_calls`` deltas, and answers each
request with the next scripted behaviour:

    server.script(answer("Income drifted.", pieces=4))           # stream an answer in 4 chunks
    server.script(tool_call("feature_history", {"model": "x", "feature": "amount"}), answer("…"))
    server.script(status(500))                                     # HTTP 500 with an error body
    server.script(hang())                                          # accept, then never answer
    server.script(answer("…", delay=0.5))                          # slow: a pause before each chunk

When the script is used up, ``server.default`` (an answer) is given. ``server.requests`` holds every
request's parsed JSON body and headers, for assertions (what was sent, with which key).

    with running_openai_server() as server:
        settings = replace(settings, openai_base_url=server.url)
"""
from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator


@dataclass(frozen=True)
class Behaviour:
    kind: str  # answer | tool_call | status | hang
    text: str = ""
    pieces: int = 3
    delay: float = 0.0
    code: int = 200
    calls: tuple[tuple[str, str], ...] = ()  # (name, arguments JSON)


def answer(text: str, pieces: int = 3, delay: float = 0.0) -> Behaviour:
    """Stream ``text`` in ``pieces`` chunks, waiting ``delay`` seconds before each."""
    return Behaviour("answer", text=text, pieces=pieces, delay=delay)


def tool_call(name: str, arguments: dict, *more: tuple[str, dict]) -> Behaviour:
    """Ask for one tool call (or several: extra ``(name, arguments)`` pairs), streamed in pieces."""
    calls = ((name, json.dumps(arguments)),) + tuple((n, json.dumps(a)) for n, a in more)
    return Behaviour("tool_call", calls=calls)


def status(code: int) -> Behaviour:
    """Answer HTTP ``code`` with an OpenAI-style error body."""
    return Behaviour("status", code=code)


def hang() -> Behaviour:
    """Read the request, then never answer (until the server stops)."""
    return Behaviour("hang")


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    raw: str


@dataclass
class OpenAIServer:
    """The running server: its base URL (``…/v1``), the script, and what it received."""

    httpd: ThreadingHTTPServer
    default: Behaviour = field(default_factory=lambda: answer("The default answer."))
    requests: list[Received] = field(default_factory=list)
    _script: list[Behaviour] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _closing: threading.Event = field(default_factory=threading.Event)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def script(self, *behaviours: Behaviour) -> None:
        """Answer the next requests with ``behaviours``, in order (then ``default``)."""
        with self._lock:
            self._script.extend(behaviours)

    def next_behaviour(self) -> Behaviour:
        with self._lock:
            return self._script.pop(0) if self._script else self.default

    @property
    def chat_requests(self) -> list[Received]:
        return [r for r in self.requests if r.path.endswith("/chat/completions")]


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    body = {"id": "chatcmpl-test", "object": "chat.completion.chunk", "created": int(time.time()),
            "model": "test-model", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    n = max(1, min(pieces, len(text)))
    size = -(-len(text) // n)
    return [text[i:i + size] for i in range(0, len(text), size)]


def _handler(server: OpenAIServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet
            pass

        def do_GET(self) -> None:  # /models, for the Monitoring page's check
            body = json.dumps({"object": "list", "data": [{"id": "test-model", "object": "model"}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace")
            try:
                body = json.loads(raw)
            except ValueError:
                body = {}
            server.requests.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, raw))
            b = server.next_behaviour()
            if b.kind == "hang":
                server._closing.wait()
                return
            if b.kind == "status":
                err = json.dumps({"error": {"message": "scripted failure", "type": "server_error"}}).encode()
                self.send_response(b.code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(err)))
                self.end_headers()
                self.wfile.write(err)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Cache-Control", "no-cache")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            try:
                self._stream(b)
            except (BrokenPipeError, ConnectionResetError):
                pass

        def _send(self, data: bytes, delay: float) -> None:
            if delay and server._closing.wait(delay):
                raise BrokenPipeError
            self.wfile.write(data)
            self.wfile.flush()

        def _stream(self, b: Behaviour) -> None:
            self._send(_chunk({"role": "assistant", "content": ""}), 0)
            if b.kind == "tool_call":
                for i, (name, args) in enumerate(b.calls):
                    self._send(_chunk({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                                       "function": {"name": name, "arguments": ""}}]}), 0)
                    for part in _split(args, 2):
                        self._send(_chunk({"tool_calls": [{"index": i, "function": {"arguments": part}}]}), 0)
                self._send(_chunk({}, "tool_calls"), 0)
            else:
                for part in _split(b.text, b.pieces):
                    self._send(_chunk({"content": part}), b.delay)
                self._send(_chunk({}, "stop"), 0)
            self._send(b"data: [DONE]\n\n", 0)

    return Handler


@contextlib.contextmanager
def running_openai_server() -> Iterator[OpenAIServer]:
    """Start the server on a free loopback port; stop it (and release hung requests) afterwards."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    httpd.daemon_threads = True
    server = OpenAIServer(httpd)
    httpd.RequestHandlerClass = _handler(server)
    thread = threading.Thread(target=httpd.serve_forever, name="openai-test-server", daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server._closing.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)

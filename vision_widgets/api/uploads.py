"""What the upload endpoints share: a bearer credential and a bounded body, decided before the body is read.

``UploadHandler.prepare`` answers everything the headers can decide before tornado reads a byte of
the body: a declared body over the limit (413), a missing credential (401), a credential the
subclass's ``check`` refuses (401, 403, 404: unknown, spent or expired, another model's, no such
model) and a content type the endpoint does not take (415). The connection is closed after such an
answer, so an unauthenticated upload costs neither memory nor the time to receive it. Then the body
is collected up to the limit and ``store`` runs in an executor thread; it checks the credential again
inside its transaction (another request may have spent or revoked it meanwhile).
"""
from __future__ import annotations

from typing import Any

import tornado.ioloop
import tornado.web

from vision_widgets.api.base import JSONHandler
from vision_widgets.core.errors import VisionError


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def media_type(header: str) -> str:
    """``application/json`` of ``application/json; charset=utf-8``."""
    return header.split(";")[0].strip().lower()


@tornado.web.stream_request_body
class UploadHandler(JSONHandler):
    """``POST`` of a body under ``upload_limit_bytes`` with a bearer credential; subclasses say the rest."""

    #: Appended to the 413 messages: what to send instead.
    TOO_BIG_HINT = ""
    #: The 401 message when no ``Authorization: Bearer`` header came.
    NO_CREDENTIAL = "Send your credential as 'Authorization: Bearer <token>'."
    #: The media types accepted ("" = no Content-Type header), and the 415 message otherwise.
    CONTENT_TYPES: tuple[str, ...] = ("application/json",)
    WRONG_TYPE = "Send the body as application/json."
    #: The 400 message for an empty body.
    EMPTY = "The body is empty."

    def check(self, token: str, name: str) -> None:
        """Raise a ``VisionError`` unless ``token`` may upload to model ``name`` (a worker thread)."""
        raise NotImplementedError

    def store(self, token: str, name: str, body: bytes, content_type: str) -> tuple[dict[str, Any], int]:
        """Store the body; the JSON answer and its status (a worker thread)."""
        raise NotImplementedError

    def is_empty(self, body: bytes) -> bool:
        return not body

    async def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_big = False
        self._token = ""
        if self.request.method != "POST":
            return  # tornado answers 405 (with Allow) for the other methods
        limit = self.ctx.settings.upload_limit_bytes
        declared = self.request.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limit:
            self._too_big = True
            self.fail(413, f"The body is {int(declared):,} bytes; the limit is {limit:,}. {self.TOO_BIG_HINT}".strip())
            return
        token = bearer_token(self.request.headers.get("Authorization", ""))
        if token is None:
            self.fail(401, self.NO_CREDENTIAL)
            return
        loop = tornado.ioloop.IOLoop.current()
        try:  # tornado decoded the path argument
            await loop.run_in_executor(None, self.check, token, self.path_args[0])
        except VisionError as exc:
            self.fail_with(exc)
            return
        if media_type(self.request.headers.get("Content-Type", "")) not in self.CONTENT_TYPES:
            self.fail(415, self.WRONG_TYPE)
            return
        self._token = token

    def data_received(self, chunk: bytes) -> None:
        if self._too_big or self._finished:
            return
        self._size += len(chunk)
        if self._size > self.ctx.settings.upload_limit_bytes:
            self._too_big = True
            self._chunks = []
            return
        self._chunks.append(chunk)

    async def post(self, name: str) -> None:
        if self._finished:
            return
        if self._too_big:
            limit = self.ctx.settings.upload_limit_bytes
            self.fail(413, f"The body is over the limit of {limit:,} bytes. {self.TOO_BIG_HINT}".strip())
            return
        body = b"".join(self._chunks)
        self._chunks = []
        if self.is_empty(body):
            self.fail(400, self.EMPTY)
            return
        loop = tornado.ioloop.IOLoop.current()
        content_type = media_type(self.request.headers.get("Content-Type", ""))
        try:
            answer, status = await loop.run_in_executor(None, self.store, self._token, name, body, content_type)
        except VisionError as exc:
            self.fail_with(exc)
            return
        self.write_json(answer, status)

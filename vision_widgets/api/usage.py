"""``POST /vision/api/models/{name}/usage``: usage records for a model, from automation.

The caller sends an API key with scope ``usage`` (an admin issues it: ``vision api-keys
issue``) or the model's upload token as ``Authorization: Bearer <credential>``. The body
is JSON lines (``application/x-ndjson``, one record per line) or a JSON array
(``application/json``). As for profile submissions, everything the headers decide is
decided in ``prepare``, before a byte of the body is read: 413 for a declared body over
the limit, 401 for a missing, unknown, revoked or expired credential, 404 for an unknown
model, 403 for an upload token of another model, 415 for another content type. The upload
token is never spent by usage.

Answers: 201 when at least one record was new, 200 when every record was already stored
(a re-send), with the counts; 400 for lines that are not JSON, 422 for records that are
JSON but not valid usage (every bad line named), and nothing of a refused body is stored.
"""
from __future__ import annotations

import tornado.ioloop
import tornado.web

from vision_widgets.api.base import JSONHandler
from vision_widgets.api.submissions import bearer_token
from vision_widgets.core.errors import VisionError


def media_type(header: str) -> str:
    """``application/json`` of ``application/json; charset=utf-8``."""
    return header.split(";")[0].strip().lower()


@tornado.web.stream_request_body
class UsageHandler(JSONHandler):
    """Streams the body into memory only once the headers showed an allowed upload."""

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
            self.fail(413, f"The body is {int(declared):,} bytes; the limit is {limit:,}. "
                           "Send the records in smaller batches.")
            return
        token = bearer_token(self.request.headers.get("Authorization", ""))
        if token is None:
            self.fail(401, "Send an API key or the model's upload token as 'Authorization: Bearer <credential>'.")
            return
        from vision_widgets.services.usage import CONTENT_TYPES, usage_target

        loop = tornado.ioloop.IOLoop.current()
        try:  # tornado decoded the path argument
            await loop.run_in_executor(None, usage_target, self.ctx, token, self.path_args[0])
        except VisionError as exc:
            self.fail_with(exc)
            return
        if media_type(self.request.headers.get("Content-Type", "")) not in CONTENT_TYPES:
            self.fail(415, "Send usage records as application/x-ndjson (one JSON object per line) "
                           "or application/json (an array of objects).")
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
        limit = self.ctx.settings.upload_limit_bytes
        if self._too_big:
            self.fail(413, f"The body is over the limit of {limit:,} bytes; send the records in smaller batches.")
            return
        body = b"".join(self._chunks)
        self._chunks = []
        if not body.strip():
            self.fail(400, "The body is empty; send one usage record per line (JSON lines).")
            return
        from vision_widgets.services.usage import ingest_body

        loop = tornado.ioloop.IOLoop.current()
        content_type = media_type(self.request.headers.get("Content-Type", ""))
        try:  # the credential is checked again inside the storing transaction
            result = await loop.run_in_executor(None, ingest_body, self.ctx, self._token, name, body, content_type)
        except VisionError as exc:
            self.fail_with(exc)
            return
        self.write_json(result.summary(), 201 if result.stored else 200)

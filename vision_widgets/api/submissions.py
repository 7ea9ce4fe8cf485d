"""``POST /vision/api/models/{name}/profiles``: a restricted client submits profiles.

The caller sends the model's single-use upload token as ``Authorization: Bearer
<token>``. Everything that can be decided from the headers is decided in
``prepare``, before tornado reads a byte of the body: a declared body over the
limit (413), a missing, unknown, used or expired token (401), an unknown model
(404), a token of another model (403) and a body that is not JSON (415). The
connection is closed after such an answer, so an unauthenticated upload costs
neither memory nor the time to receive it. The token is only looked up there;
it is spent by the transaction that stores an accepted submission.
"""
from __future__ import annotations

import tornado.ioloop
import tornado.web

from vision_widgets.api.base import JSONHandler
from vision_widgets.core.errors import VisionError


def bearer_token(authorization: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


@tornado.web.stream_request_body
class SubmitProfilesHandler(JSONHandler):
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
                           "Submit profiles only (a profile is a few hundred KB at most).")
            return
        token = bearer_token(self.request.headers.get("Authorization", ""))
        if token is None:
            self.fail(401, "Send the model's upload token as 'Authorization: Bearer <token>'.")
            return
        from vision_widgets.services.submissions import upload_target

        loop = tornado.ioloop.IOLoop.current()
        try:  # tornado decoded the path argument
            await loop.run_in_executor(None, upload_target, self.ctx, token, self.path_args[0])
        except VisionError as exc:
            self.fail_with(exc)
            return
        if self.request.headers.get("Content-Type", "").split(";")[0].strip().lower() not in ("application/json", ""):
            self.fail(415, "Send the submission as application/json.")
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
            self.fail(413, f"The body is over the limit of {limit:,} bytes.")
            return
        body = b"".join(self._chunks)
        self._chunks = []
        if not body:
            self.fail(400, "The body is empty; send the submission JSON the client notebook builds.")
            return
        from vision_widgets.services.submissions import submit_with_token

        loop = tornado.ioloop.IOLoop.current()
        try:  # the token is checked again: another request may have spent it meanwhile
            result = await loop.run_in_executor(None, submit_with_token, self.ctx, self._token, name, body)
        except VisionError as exc:
            self.fail_with(exc)
            return
        self.write_json(dict(result.summary(), status="accepted"), 201)

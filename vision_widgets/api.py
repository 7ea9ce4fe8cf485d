"""The ``/vision/api/*`` HTTP endpoints (tornado handlers prepended to Voila's routes).

* ``GET  /vision/api/health`` — is the server up (no kernel is touched).
* ``POST /vision/api/models/{name}/profiles`` — a restricted client submits profiles with the
  model's upload token (``Authorization: Bearer <token>``).
* ``GET  /vision/api/openapi.json`` — the description of this API.

Handlers are thin: they translate HTTP to a service call and the service's errors to status
codes. The body is streamed so an oversized upload is refused (413) from its headers, before
it is read, and nothing is stored unless the whole submission validates.
"""
from __future__ import annotations

import json
from typing import Any

import tornado.ioloop
import tornado.web

from vision_widgets.core.context import Context
from vision_widgets.core.errors import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    VisionError,
)

API_PREFIX = "/vision/api"

#: Service error -> HTTP status.
STATUS_OF: tuple[tuple[type[VisionError], int], ...] = (
    (AuthenticationError, 401),
    (PermissionDenied, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
)


class JSONHandler(tornado.web.RequestHandler):
    """Base of every endpoint: JSON in and out, never cached, never a traceback.

    A plain tornado handler (not a Jupyter one): no Jupyter identity or XSRF machinery, so an
    endpoint that changes state authenticates its caller itself.
    """

    def initialize(self, server: Any, ctx: Context | None = None) -> None:
        self.server = server
        self.ctx = ctx

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    def fail(self, status: int, message: str, field: str | None = None) -> None:
        body = {"status": "error", "code": status, "message": message}
        if field:
            body["field"] = field
        self.write_json(body, status)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        self.finish(json.dumps({"status": "error", "code": status_code, "message": self._reason}))


class HealthHandler(JSONHandler):
    """``GET /vision/api/health``: reads counters only; kernel ids are never listed."""

    def get(self) -> None:
        from vision_widgets import __version__

        stats = self.server.kernel_stats() if hasattr(self.server, "kernel_stats") else {}
        self.write_json({"status": "ok", "version": __version__, "kernels": stats})


def _field_of(message: str) -> str | None:
    """The submission field an ``InvalidInput`` message names (``Field "x": …``)."""
    if message.startswith('Field "'):
        return message.split('"', 2)[1]
    return None


@tornado.web.stream_request_body
class SubmitProfilesHandler(JSONHandler):
    """``POST /vision/api/models/{name}/profiles`` with an upload token."""

    def prepare(self) -> None:
        self._chunks: list[bytes] = []
        self._size = 0
        self._too_big = False
        limit = self.ctx.settings.upload_limit_bytes
        declared = self.request.headers.get("Content-Length")
        if self.request.method == "POST" and declared and declared.isdigit() and int(declared) > limit:
            self._too_big = True
            self.fail(413, f"The body is {int(declared):,} bytes; the limit is {limit:,}. "
                           "Submit profiles only (a profile is a few hundred KB at most).")

    def data_received(self, chunk: bytes) -> None:
        if self._too_big:
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
        auth = self.request.headers.get("Authorization", "")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            self.set_header("WWW-Authenticate", 'Bearer realm="vision"')
            self.fail(401, "Send the model's upload token as 'Authorization: Bearer <token>'.")
            return
        body = b"".join(self._chunks)
        if not body:
            self.fail(400, "The body is empty; send the submission JSON the client notebook builds.")
            return
        if self.request.headers.get("Content-Type", "").split(";")[0].strip() not in ("application/json", ""):
            self.fail(415, "Send the submission as application/json.")
            return
        from vision_widgets.services.submissions import submit_with_token

        loop = tornado.ioloop.IOLoop.current()
        try:
            result = await loop.run_in_executor(None, submit_with_token, self.ctx, token.strip(), name, body)  # tornado decoded the path
        except VisionError as exc:
            status = next((code for kind, code in STATUS_OF if isinstance(exc, kind)), 400)
            if status == 422 and str(exc).startswith("The submission is not valid JSON"):
                status = 400
            if status == 401:
                self.set_header("WWW-Authenticate", 'Bearer realm="vision"')
            self.fail(status, str(exc), _field_of(str(exc)))
            return
        self.write_json(dict(result.summary(), status="accepted"), 201)


class OpenAPIHandler(JSONHandler):
    def get(self) -> None:
        self.write_json(openapi_document(self.ctx.settings.upload_limit_bytes if self.ctx else None))


def openapi_document(limit: int | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the endpoints above."""
    error = {"$ref": "#/components/schemas/Error"}

    def resp(text: str, schema: dict | None = None) -> dict:
        return {"description": text, "content": {"application/json": {"schema": schema or error}}}

    return {
        "openapi": "3.1.0",
        "info": {"title": "Vision AI API", "version": "1",
                 "description": "Health, and profile submission for models whose data is restricted."},
        "paths": {
            f"{API_PREFIX}/health": {"get": {
                "summary": "Is the server up",
                "responses": {"200": resp("Server status", {"type": "object"})},
            }},
            f"{API_PREFIX}/models/{{name}}/profiles": {"post": {
                "summary": "Submit a model's profiles (aggregates only) with its upload token",
                "security": [{"uploadToken": []}],
                "parameters": [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"},
                                "description": "The registered model name (URL-encoded)."}],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/Submission"}}},
                    "description": f"At most {limit:,} bytes." if limit else ""},
                "responses": {
                    "201": resp("Accepted; the drift summary", {"$ref": "#/components/schemas/Accepted"}),
                    "400": resp("The body is not JSON or is empty"),
                    "401": resp("Missing, unknown, expired or used upload token"),
                    "403": resp("The token belongs to another model"),
                    "404": resp("No model of that name"),
                    "413": resp("The body is over the size limit"),
                    "415": resp("Not application/json"),
                    "422": resp("A field is invalid; 'field' names it"),
                },
            }},
        },
        "components": {
            "securitySchemes": {"uploadToken": {"type": "http", "scheme": "bearer",
                                                "description": "The model's 24-hour, single-use upload token."}},
            "schemas": {
                "Error": {"type": "object", "required": ["status", "code", "message"], "properties": {
                    "status": {"const": "error"}, "code": {"type": "integer"}, "message": {"type": "string"},
                    "field": {"type": "string"}}},
                "Submission": {"type": "object", "required": ["schema", "model", "production"], "properties": {
                    "schema": {"const": "vision.submission"}, "model": {"type": "string"},
                    "label": {"type": "string", "maxLength": 128},
                    "reference": {"type": ["object", "null"], "description": "Training profile (first submission)"},
                    "production": {"type": "object", "description": "Production profile computed with the reference"},
                }},
                "Accepted": {"type": "object", "properties": {
                    "status": {"const": "accepted"}, "model": {"type": "string"}, "dataset_drift": {"type": "boolean"},
                    "drift_share": {"type": "number"}, "drifted_features": {"type": "array", "items": {"type": "string"}},
                }},
            },
        },
    }


#: ``(suffix under /vision/api, handler)``; the server prepends them before Voila's routes.
HANDLERS: list[tuple[str, type[JSONHandler]]] = [
    ("health", HealthHandler),
    (r"models/([^/]+)/profiles", SubmitProfilesHandler),
    ("openapi.json", OpenAPIHandler),
]

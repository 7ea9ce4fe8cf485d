"""What every ``/vision/api`` endpoint shares: JSON answers, and errors mapped by type.

A service raises a ``VisionError`` subclass; the HTTP status comes from the
exception's *type* (``STATUS_OF``), never from its words, and the JSON error body
carries ``field`` when the error names one (``InvalidInput.field``). Anything
else that escapes a handler is a 500 with a generic message: the traceback goes
to the server log, never to the caller (it could hold paths, SQL or secrets).
"""
from __future__ import annotations

import json
from typing import Any

import tornado.web

from vision_widgets.core.context import Context
from vision_widgets.core.errors import (
    AuthenticationError,
    Conflict,
    InvalidInput,
    MalformedJSON,
    NotFound,
    PermissionDenied,
)

API_PREFIX = "/vision/api"

#: Service error type -> HTTP status. The most specific class in an error's MRO wins,
#: so ``MalformedJSON`` (an ``InvalidInput``) is 400 while other ``InvalidInput`` is 422.
STATUS_OF: dict[type[BaseException], int] = {
    MalformedJSON: 400,
    InvalidInput: 422,
    AuthenticationError: 401,
    PermissionDenied: 403,
    NotFound: 404,
    Conflict: 409,
}

#: What a caller reads when the server failed (the details are in the server log).
INTERNAL_ERROR = "The server failed to handle this request; the error was logged. Try again later."


def status_of(exc: BaseException) -> int:
    """The HTTP status for ``exc``: its most specific mapped class, else 500."""
    for kind in type(exc).__mro__:
        if kind in STATUS_OF:
            return STATUS_OF[kind]
    return 500


def error_body(status: int, message: str, field: str | None = None) -> dict[str, Any]:
    """The JSON of every error answer (``components.schemas.Error`` in the OpenAPI document)."""
    body: dict[str, Any] = {"status": "error", "code": status, "message": message}
    if field:
        body["field"] = field
    return body


class JSONHandler(tornado.web.RequestHandler):
    """Base of every endpoint: JSON in and out, never cached, never a traceback.

    A plain tornado handler (not a Jupyter one): no Jupyter identity or XSRF machinery, so an
    endpoint that changes state authenticates its caller itself.
    """

    def initialize(self, server: Any, ctx: Context | None = None) -> None:
        self.server = server
        self.ctx = ctx

    @classmethod
    def allowed_methods(cls) -> tuple[str, ...]:
        """The HTTP methods this endpoint implements (the ``Allow`` header of a 405)."""
        unimplemented = tornado.web.RequestHandler._unimplemented_method
        return tuple(m for m in cls.SUPPORTED_METHODS if getattr(cls, m.lower(), unimplemented) is not unimplemented)

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.set_header("X-Content-Type-Options", "nosniff")
        self.set_header("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")

    def write_json(self, payload: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(payload, default=str))

    def fail(self, status: int, message: str, field: str | None = None) -> None:
        """Answer with an error of ``status`` (a 401 also says which scheme to use)."""
        if status == 401:
            self.set_header("WWW-Authenticate", 'Bearer realm="vision"')
        self.write_json(error_body(status, message, field), status)

    def fail_with(self, exc: BaseException) -> None:
        """Answer for a service error: status from its type, its message, its field."""
        status = status_of(exc)
        if status == 500:
            raise exc  # tornado logs it and answers through write_error: a generic 500
        self.fail(status, str(exc), getattr(exc, "field", None))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Errors tornado raises itself (405, 400 for a bad request line) and uncaught exceptions."""
        if status_code == 405:
            # RFC 9110 §15.5.6: a 405 lists the methods the resource supports.
            self.set_header("Allow", ", ".join(self.allowed_methods()))
        message = INTERNAL_ERROR if status_code >= 500 else self._reason
        self.finish(json.dumps(error_body(status_code, message)))

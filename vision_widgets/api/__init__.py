"""The ``/vision/api/*`` HTTP endpoints: tornado handlers the server prepends to Voila's routes.

One module per concern:

* ``base`` — JSON answers, and service errors mapped to status codes by exception type;
* ``health`` — ``GET /vision/api/health``, is the server up (no kernel is touched);
* ``submissions`` — ``POST /vision/api/models/{name}/profiles``, a restricted client submits
  profiles with the model's upload token (``Authorization: Bearer <token>``);
* ``usage`` — ``POST /vision/api/models/{name}/usage``, usage records (JSON lines) with an API key
  or the model's upload token;
* ``session`` — ``POST``/``DELETE /vision/api/session``, the page turns a login's single-use code
  into its ``HttpOnly`` session cookie, and clears it on logout;
* ``openapi`` — ``GET /vision/api/openapi.json``, the description of this API.

Handlers are thin: they translate HTTP to a service call and the service's errors to status
codes; nothing is stored unless the whole submission validates.
"""
from __future__ import annotations

from vision_widgets.api.base import API_PREFIX, STATUS_OF, JSONHandler, status_of
from vision_widgets.api.health import HealthHandler
from vision_widgets.api.openapi import OpenAPIHandler, openapi_document
from vision_widgets.api.session import SessionHandler
from vision_widgets.api.submissions import SubmitProfilesHandler
from vision_widgets.api.usage import UsageHandler

__all__ = [
    "API_PREFIX",
    "HANDLERS",
    "STATUS_OF",
    "HealthHandler",
    "JSONHandler",
    "OpenAPIHandler",
    "SessionHandler",
    "SubmitProfilesHandler",
    "UsageHandler",
    "openapi_document",
    "status_of",
]

#: ``(suffix under /vision/api, handler)``; the server prepends them before Voila's routes.
HANDLERS: list[tuple[str, type[JSONHandler]]] = [
    ("health", HealthHandler),
    (r"models/([^/]+)/profiles", SubmitProfilesHandler),
    (r"models/([^/]+)/usage", UsageHandler),
    ("session", SessionHandler),
    ("openapi.json", OpenAPIHandler),
]

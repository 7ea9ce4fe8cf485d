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

from typing import Any

from vision_widgets.api.uploads import UploadHandler, media_type

__all__ = ["UsageHandler", "media_type"]


class UsageHandler(UploadHandler):
    """Usage records from automation, with an API key or the model's upload token (never spent)."""

    TOO_BIG_HINT = "Send the records in smaller batches."
    NO_CREDENTIAL = "Send an API key or the model's upload token as 'Authorization: Bearer <credential>'."
    WRONG_TYPE = ("Send usage records as application/x-ndjson (one JSON object per line) "
                  "or application/json (an array of objects).")
    EMPTY = "The body is empty; send one usage record per line (JSON lines)."

    @property
    def CONTENT_TYPES(self) -> tuple[str, ...]:  # noqa: N802 - the services' list, read when needed
        from vision_widgets.services.usage import CONTENT_TYPES

        return tuple(CONTENT_TYPES)

    def is_empty(self, body: bytes) -> bool:
        return not body.strip()

    def check(self, token: str, name: str) -> None:
        from vision_widgets.services.usage import usage_target

        usage_target(self.ctx, token, name)

    def store(self, token: str, name: str, body: bytes, content_type: str) -> tuple[dict[str, Any], int]:
        from vision_widgets.services.usage import ingest_body

        result = ingest_body(self.ctx, token, name, body, content_type)
        return result.summary(), 201 if result.stored else 200

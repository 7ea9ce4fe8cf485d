"""``POST /vision/api/models/{name}/profiles``: a restricted client submits profiles.

The caller sends the model's single-use upload token as ``Authorization: Bearer
<token>``. What the headers decide is decided before the body is read (``api/uploads.py``):
413, 401 (a missing, unknown, used or expired token), 404 (an unknown model), 403 (a token
of another model), 415 (not JSON). The token is only looked up there; it is spent by the
transaction that stores an accepted submission.
"""
from __future__ import annotations

from typing import Any

from vision_widgets.api.uploads import UploadHandler, bearer_token

__all__ = ["SubmitProfilesHandler", "bearer_token"]


class SubmitProfilesHandler(UploadHandler):
    """Profiles from a client notebook, with the model's upload token."""

    TOO_BIG_HINT = "Submit profiles only (a profile is a few hundred KB at most)."
    NO_CREDENTIAL = "Send the model's upload token as 'Authorization: Bearer <token>'."
    CONTENT_TYPES = ("application/json", "")
    WRONG_TYPE = "Send the submission as application/json."
    EMPTY = "The body is empty; send the submission JSON the client notebook builds."

    def check(self, token: str, name: str) -> None:
        from vision_widgets.services.submissions import upload_target

        upload_target(self.ctx, token, name)

    def store(self, token: str, name: str, body: bytes, content_type: str) -> tuple[dict[str, Any], int]:
        from vision_widgets.services.submissions import submit_with_token

        result = submit_with_token(self.ctx, token, name, body)
        return dict(result.summary(), status="accepted"), 201

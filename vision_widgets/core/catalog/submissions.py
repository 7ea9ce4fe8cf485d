"""The body a restricted client sends: profiles only, validated before anything is stored.

Shape (``client.submission(...)`` builds it)::

    {"schema": "vision.submission", "model": "<name>", "label": "<batch label>",
     "reference": {<profile>} | null, "production": {<profile>}}

The same shape comes over ``POST /vision/api/models/{name}/profiles`` and as a
JSON file uploaded on the model's page.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

from vision_widgets.client import SUBMISSION_SCHEMA, Profile
from vision_widgets.core.errors import InvalidInput


@dataclass(frozen=True)
class Submission:
    model: str
    label: str
    reference: Profile | None
    production: Profile


def parse(body: bytes | str | Mapping[str, Any], limit_bytes: int | None = None) -> Submission:
    """Parse and validate a submission; ``InvalidInput`` names the field that is wrong."""
    if isinstance(body, (bytes, str)):
        if limit_bytes is not None and len(body) > limit_bytes:
            raise InvalidInput(f"The submission is {len(body):,} bytes; the limit is {limit_bytes:,}.")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidInput(f"The submission is not valid JSON ({exc}); send the file the client notebook wrote.") from None
    else:
        data = body
    if not isinstance(data, Mapping) or data.get("schema") != SUBMISSION_SCHEMA:
        raise InvalidInput(
            f'This is not a Vision submission (field "schema" must be "{SUBMISSION_SCHEMA}"); '
            "send the file written by the client notebook."
        )
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput('Field "model" must name the model the profiles are for.')
    label = data.get("label") or ""
    if not isinstance(label, str) or len(label) > 128:
        raise InvalidInput('Field "label" must be text of at most 128 characters.')
    if data.get("production") is None:
        raise InvalidInput('Field "production" is missing: a submission carries at least a production profile.')
    try:
        production = Profile.from_json(data["production"])
    except InvalidInput as exc:
        raise InvalidInput(f'Field "production": {exc}') from None
    reference = None
    if data.get("reference") is not None:
        try:
            reference = Profile.from_json(data["reference"])
        except InvalidInput as exc:
            raise InvalidInput(f'Field "reference": {exc}') from None
        if not reference.is_reference:
            raise InvalidInput('Field "reference" holds a production profile; send the training profile there.')
    if production.is_reference:
        raise InvalidInput('Field "production" holds a reference profile; profile production data with reference=.')
    return Submission(model=model.strip(), label=label.strip(), reference=reference, production=production)

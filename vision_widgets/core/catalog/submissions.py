"""The body a restricted client sends: profiles only, validated before anything is stored.

Shape (``client.submission(...)`` builds it)::

    {"schema": "vision.submission", "model": "<name>", "label": "<batch label>",
     "reference": {<profile>} | null, "production": {<profile>}}

The same shape comes over ``POST /vision/api/models/{name}/profiles`` and as a
JSON file uploaded on the model's page.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from vision_widgets.client import SUBMISSION_SCHEMA, Profile, load_json
from vision_widgets.core.errors import InvalidInput

#: The longest batch label (the OpenAPI document says the same).
MAX_LABEL = 128


@dataclass(frozen=True)
class Submission:
    model: str
    label: str
    reference: Profile | None
    production: Profile


def parse(body: bytes | str | Mapping[str, Any], limit_bytes: int | None = None) -> Submission:
    """Parse and validate a submission; ``InvalidInput.field`` names the field that is wrong.

    ``MalformedJSON`` (a subclass) when the body is not JSON or nests deeper than
    ``client.MAX_JSON_DEPTH``; every other refusal is an ``InvalidInput`` whose
    ``field`` is the path of the value at fault (``production.columns['age'].count``).
    Nothing here touches storage: a refusal stores nothing and spends no token.
    """
    if isinstance(body, (bytes, str)):
        if limit_bytes is not None and len(body) > limit_bytes:
            raise InvalidInput(f"The submission is {len(body):,} bytes; the limit is {limit_bytes:,}.")
        data = load_json(body, "The submission")
    else:
        data = body
    if not isinstance(data, Mapping) or data.get("schema") != SUBMISSION_SCHEMA:
        raise InvalidInput(
            f'This is not a Vision submission (field "schema" must be "{SUBMISSION_SCHEMA}"); '
            "send the file written by the client notebook.", field="schema"
        )
    model = data.get("model")
    if not isinstance(model, str) or not model.strip():
        raise InvalidInput('Field "model" must name the model the profiles are for.', field="model")
    label = data.get("label")
    if label is None:
        label = ""
    if not isinstance(label, str) or len(label) > MAX_LABEL:
        raise InvalidInput(f'Field "label" must be text of at most {MAX_LABEL} characters.', field="label")
    if data.get("production") is None:
        raise InvalidInput('Field "production" is missing: a submission carries at least a production profile.',
                           field="production")
    production = _profile(data["production"], "production")
    reference = None
    if data.get("reference") is not None:
        reference = _profile(data["reference"], "reference")
        if not reference.is_reference:
            raise InvalidInput('Field "reference" holds a production profile; send the training profile there.',
                               field="reference")
    if production.is_reference:
        raise InvalidInput('Field "production" holds a reference profile; profile production data with reference=.',
                           field="production")
    return Submission(model=model.strip(), label=label.strip(), reference=reference, production=production)


def _profile(value: Any, name: str) -> Profile:
    """The profile in field ``name``; the client's error path (``profile.k``) becomes ``name.k``."""
    if not isinstance(value, Mapping):
        raise InvalidInput(f'Field "{name}" must be an object: the profile JSON the client wrote.', field=name)
    try:
        return Profile.from_json(value)
    except InvalidInput as exc:
        inner = exc.field or ""
        inner = inner[len("profile"):] if inner.startswith("profile") else (f".{inner}" if inner else "")
        raise InvalidInput(f'Field "{name}": {exc}', field=f"{name}{inner}") from None

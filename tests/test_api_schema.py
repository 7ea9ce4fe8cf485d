"""Schemathesis against the real server: the ``/vision/api`` endpoints keep the promises of their own
``/vision/api/openapi.json`` — never a 500, only documented status codes, JSON bodies that match the
documented schemas, 4xx for data the schema refuses, 401 without the bearer token.

Cases are generated from the schema (positive, and negative where an operation takes input), at
most 50 per run and derandomized, so every run sends the same requests. The submission endpoint runs
with the generated (invalid) credentials, and again with a live upload token for the model it names,
so the generated bodies reach the parser and the validators instead of stopping at the token check;
the token is never spent (no generated body is a real profile pair). The usage endpoint runs the same
way, again with a live API key.

Schemathesis' pytest integration (``from_fixture``/``parametrize``) fails on pytest 9.2 (it reads
``node._nodeid``), so the cases come from ``operation.as_strategy`` under hypothesis' ``@given``;
405 with ``Allow`` for methods a route lacks is tested in tests/test_api.py.

``positive_data_acceptance`` is left out on purpose: a body can match the schema and still be
refused (422), because what makes a profile valid (counts that add up, a fingerprint matching the
model's training profile) is beyond what a JSON schema can say.
"""
from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from helpers import USER, demo_spec
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    missing_required_header,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from vision_widgets.core.identity import sessions
from vision_widgets.services import registration

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
    missing_required_header,
    ignored_auth,
]
MODEL = "Schema-checked model"
MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
#: (operation, mode): an operation without parameters or body has no negative data to generate.
RUNS = [("health", GenerationMode.POSITIVE), ("openapi", GenerationMode.POSITIVE),
        ("submitProfiles", GenerationMode.POSITIVE), ("submitProfiles", GenerationMode.NEGATIVE),
        ("submitUsage", GenerationMode.POSITIVE), ("submitUsage", GenerationMode.NEGATIVE)]


@pytest.fixture(scope="module")
def api_schema(real_server):
    """The document as the real server publishes it (schemathesis ``from_url``)."""
    return schemathesis.openapi.from_url(real_server.url("vision/api/openapi.json"), timeout=30)


@pytest.fixture(scope="module")
def live_token(real_server, real_ctx) -> str:
    """A live upload token of a restricted model on the real server (the generated bodies never spend it)."""
    owner = sessions.operator_session(real_ctx, USER)
    return registration.register_model(real_ctx, owner, demo_spec(MODEL, restricted=True)).upload_token


def _run(strategy, base_url: str, headers: dict | None = None) -> Counter:
    """Up to 50 generated cases (derandomized, so every run sends the same ones); each is sent and checked.

    Returns how often each status code was answered.
    """
    statuses: Counter = Counter()

    @settings(max_examples=50, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=strategy)
    def check(case) -> None:
        response = case.call_and_validate(base_url=base_url, checks=CHECKS, headers=headers, timeout=30)
        statuses[response.status_code] += 1

    check()
    print("answers:", dict(sorted(statuses.items())))
    return statuses


@pytest.mark.parametrize("operation_id, mode", RUNS, ids=[f"{op}-{mode}" for op, mode in RUNS])
def test_the_api_keeps_its_openapi_promises(api_schema, real_server, operation_id, mode):
    operation = api_schema.find_operation_by_id(operation_id)
    statuses = _run(operation.as_strategy(generation_mode=mode), real_server.base_url.rstrip("/"))
    assert statuses, "no case was sent"


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_generated_submissions_with_a_live_token_are_refused_cleanly(api_schema, real_server, real_ctx, live_token,
                                                                     mode):
    operation = api_schema.find_operation_by_id("submitProfiles")
    strategy = operation.as_strategy(generation_mode=mode, path_parameters={"name": MODEL})
    statuses = _run(strategy, real_server.base_url.rstrip("/"), headers={"Authorization": f"Bearer {live_token}"})
    assert statuses[422] > 0, statuses  # the bodies reached the validators
    # nothing generated was stored, and the token is still live
    from vision_widgets.services import submissions

    digest, record = submissions.upload_target(real_ctx, live_token, MODEL)
    assert record.status == "awaiting metrics"


@pytest.fixture(scope="module")
def live_key(real_ctx) -> str:
    """A live API key (scope usage) on the real server."""
    from helpers import ADMIN

    from vision_widgets.services import api_keys

    return api_keys.issue(real_ctx, sessions.operator_session(real_ctx, ADMIN), "schema check")[0]


@pytest.mark.parametrize("mode", MODES, ids=str)
def test_generated_usage_with_a_live_key_is_stored_or_refused_cleanly(api_schema, real_server, real_ctx, live_token,
                                                                      live_key, mode):
    """Generated usage bodies reach the parser and the validators (a live key, a real model): every answer
    is documented, and a refused body stores nothing."""
    from sqlalchemy import func, select

    from vision_widgets.core.storage import schema

    def stored() -> int:
        with real_ctx.store.read() as conn:
            return conn.execute(select(func.count()).select_from(schema.usage_records)).scalar_one()

    before = stored()
    operation = api_schema.find_operation_by_id("submitUsage")
    strategy = operation.as_strategy(generation_mode=mode, path_parameters={"name": MODEL})
    statuses = _run(strategy, real_server.base_url.rstrip("/"), headers={"Authorization": f"Bearer {live_key}"})
    assert set(statuses) <= {200, 201, 400, 413, 415, 422} and statuses[422] > 0, statuses
    if mode == GenerationMode.NEGATIVE:
        assert stored() == before  # data the schema refuses is never stored

"""``POST /vision/api/models/{name}/usage`` over real HTTP (the in-process server of test_api.py): every
status code it answers with, and nothing stored from a refused body."""
from __future__ import annotations

import json
import socket
from dataclasses import replace
from urllib.parse import quote

import pytest
from helpers import ADMIN, OTHER_USER
from sqlalchemy import func, select
from test_api import Api

from vision_widgets.core.context import Context
from vision_widgets.core.storage import schema
from vision_widgets.services import api_keys

NAME = "Usage model"
RECORDS = [{"timestamp": "2026-09-01T00:00:00Z", "predictions": 1200, "compute_hours": 3.5, "cpu_share": 0.4},
           {"timestamp": "2026-09-02T00:00:00Z", "predictions": 1350, "compute_hours": 3.75, "gpu_share": None}]
NDJSON = "application/x-ndjson"


def lines(records=RECORDS) -> bytes:
    return "\n".join(json.dumps(r) for r in records).encode() + b"\n"


@pytest.fixture
def api_for(ctx):
    started: list[Api] = []

    def _start(upload_limit: int | None = None) -> Api:
        c = ctx if upload_limit is None else Context(replace(ctx.settings, upload_limit_bytes=upload_limit),
                                                     ctx.store, ctx.clock)
        started.append(Api(c))
        return started[-1]

    yield _start
    for api in started:
        api.stop()


@pytest.fixture
def api(api_for):
    return api_for()


@pytest.fixture
def reg(register_restricted):
    return register_restricted(NAME)


@pytest.fixture
def key(ctx, login) -> str:
    return api_keys.issue(ctx, login(ADMIN), "pipeline")[0]


def send(api: Api, name: str, body: bytes | None, token: str | None, content_type: str = NDJSON, **headers):
    return api.request("POST", f"/vision/api/models/{quote(name, safe='')}/usage", body, token,
                       headers={"Content-Type": content_type, **headers})


def stored(ctx) -> list[tuple]:
    t = schema.usage_records
    with ctx.store.read() as conn:
        return [tuple(r) for r in conn.execute(select(t.c.at, t.c.predictions, t.c.source).order_by(t.c.at))]


def count(ctx) -> int:
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.usage_records)).scalar_one()


# --- 201 and 200 ------------------------------------------------------------------------------

def test_201_with_the_counts_for_json_lines_sent_with_an_api_key(ctx, api, reg, key):
    status, headers, body = send(api, NAME, lines(), key)
    assert status == 201, body
    assert body == {"status": "accepted", "model": NAME, "stored": 2, "unchanged": 0, "conflicting": 0}
    assert headers["Content-Type"].startswith("application/json") and headers["Cache-Control"] == "no-store"
    assert [(r[1], r[2]) for r in stored(ctx)] == [(1200, "api"), (1350, "api")]


def test_200_when_a_re_send_stores_nothing_new(ctx, api, reg, key):
    assert send(api, NAME, lines(), key)[0] == 201
    status, _, body = send(api, NAME, lines(), key)
    assert status == 200 and (body["stored"], body["unchanged"]) == (0, 2), body
    assert count(ctx) == 2


def test_a_json_array_and_the_models_upload_token_which_is_not_spent(ctx, api, reg):
    status, _, body = send(api, NAME, json.dumps(RECORDS).encode(), reg.upload_token,
                           "application/json; charset=utf-8")
    assert status == 201 and body["stored"] == 2, body
    with ctx.store.read() as conn:
        assert conn.execute(select(schema.upload_tokens.c.used_at)).scalar_one() is None


def test_a_model_name_with_spaces_slashes_and_html_is_url_decoded(ctx, api, register_restricted, key):
    name = "<b>Q4</b> churn / v2"
    register_restricted(name)
    status, _, body = send(api, name, lines(), key)
    assert status == 201 and body["model"] == name, body


# --- 400 and 422: nothing stored --------------------------------------------------------------

@pytest.mark.parametrize("body, words", [
    (b"", "The body is empty"),
    (b"  \n\n", "The body is empty"),
    (lines() + b"{not json\n" + lines(RECORDS[:1]) + b"[1,", "Line(s) 3, 5 of the body are not JSON"),
])
def test_400_for_an_empty_body_or_lines_that_are_not_json(ctx, api, reg, key, body, words):
    status, _, answer = send(api, NAME, body, key)
    assert status == 400 and words in answer["message"], answer
    assert count(ctx) == 0


def test_422_names_every_bad_line_and_column_and_stores_nothing(ctx, api, reg, key):
    body = lines(RECORDS + [{"timestamp": "2026-09-03", "predictions": -1, "compute_hours": 1},
                            {"timestamp": "2026-09-04", "predictions": 1, "compute_hours": 1, "cost": 3}])
    status, _, answer = send(api, NAME, body, key)
    assert status == 422, answer
    assert answer["field"] == "records"
    assert "2 line(s) of the body are not valid usage records; nothing was stored." in answer["message"]
    assert "line 3, column predictions: -1 is negative" in answer["message"]
    assert "line 4, column 'cost': not a usage field" in answer["message"]
    assert count(ctx) == 0


@pytest.mark.parametrize("record, column", [
    ({"timestamp": "0001-01-01T00:00:00+01:00", "predictions": 1, "compute_hours": 1}, "timestamp"),
    ({"timestamp": "9999-12-31T23:59:59-01:00", "predictions": 1, "compute_hours": 1}, "timestamp"),
    ({"timestamp": "2611-03-23T12:00:00Z", "predictions": 1, "compute_hours": 1}, "timestamp"),
    ({"timestamp": "2026-09-03T00:00:00Z", "predictions": 1, "compute_hours": 10**400}, "compute_hours"),
])
def test_422_not_500_for_a_timestamp_or_number_out_of_range_naming_its_line(ctx, api, reg, key, record, column):
    status, _, answer = send(api, NAME, lines(RECORDS + [record]), key)
    assert status == 422, answer
    assert f"line 3, column {column}:" in answer["message"], answer
    assert count(ctx) == 0


def test_422_for_json_that_is_not_an_array(ctx, api, reg, key):
    status, _, answer = send(api, NAME, json.dumps(RECORDS[0]).encode(), key, "application/json")
    assert status == 422 and "JSON array" in answer["message"], answer


# --- 401, 403, 404 from the headers -----------------------------------------------------------

@pytest.mark.parametrize("auth", [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-real-token",
                                  "Bearer vsk_not-a-real-key"])
def test_401_for_a_missing_or_bad_credential(ctx, api, reg, auth):
    status, headers, answer = send(api, NAME, lines(), None, **({} if auth is None else {"Authorization": auth}))
    assert status == 401, answer
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert count(ctx) == 0


def test_401_for_a_revoked_key_and_an_expired_upload_token(ctx, login, api, reg, key, clock):
    api_keys.revoke(ctx, login(ADMIN), api_keys.list_keys(ctx, login(ADMIN))[0].id)
    status, _, answer = send(api, NAME, lines(), key)
    assert status == 401 and "revoked" in answer["message"]
    clock.advance(hours=24)
    status, _, answer = send(api, NAME, lines(), reg.upload_token)
    assert status == 401 and "expired" in answer["message"]
    assert count(ctx) == 0


def test_403_for_the_upload_token_of_another_model(ctx, api, reg, register_restricted):
    register_restricted("Churn model", OTHER_USER)
    status, _, answer = send(api, "Churn model", lines(), reg.upload_token)
    assert status == 403 and "another model" in answer["message"]
    assert count(ctx) == 0


def test_404_for_an_unknown_model_but_a_bad_credential_learns_nothing(api, reg, key):
    status, _, answer = send(api, "No such model", lines(), key)
    assert status == 404 and "No such model" in answer["message"]
    for name in (NAME, "No such model"):
        assert send(api, name, lines(), "vsk_wrong")[0] == 401


# --- 413 and 415 ------------------------------------------------------------------------------

def test_413_for_a_body_over_the_limit(ctx, api_for, reg, key):
    body = lines()
    api = api_for(upload_limit=len(body) - 1)
    status, _, answer = send(api, NAME, body, key)
    assert status == 413 and f"{len(body) - 1:,}" in answer["message"]
    assert count(ctx) == 0


def test_413_from_the_declared_length_before_the_body_is_read(api_for, reg):
    api = api_for(upload_limit=64 * 1024)
    with socket.create_connection(("127.0.0.1", api.port), timeout=20) as s:
        s.sendall((f"POST /vision/api/models/{quote(NAME)}/usage HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer x\r\nContent-Type: {NDJSON}\r\nContent-Length: {2 * 1024**3}\r\n\r\n"
                   ).encode())
        answer = s.recv(65536)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]


@pytest.mark.parametrize("content_type", ["text/csv", "application/x-www-form-urlencoded", ""])
def test_415_for_another_content_type(ctx, api, reg, key, content_type):
    status, _, answer = send(api, NAME, lines(), key, content_type)
    assert status == 415 and "application/x-ndjson" in answer["message"], answer
    assert count(ctx) == 0


def test_405_with_allow_for_other_methods(api, reg):
    status, headers, _ = api.request("GET", f"/vision/api/models/{quote(NAME)}/usage")
    assert status == 405 and headers["Allow"] == "POST"


# --- the OpenAPI document ---------------------------------------------------------------------

def test_openapi_describes_the_usage_endpoint(api):
    doc = api.request("GET", "/vision/api/openapi.json")[2]
    post = doc["paths"]["/vision/api/models/{name}/usage"]["post"]
    assert set(post["responses"]) == {"200", "201", "400", "401", "403", "404", "413", "415", "422"}
    assert post["security"] == [{"apiKey": []}, {"uploadToken": []}]
    assert set(post["requestBody"]["content"]) == {"application/x-ndjson", "application/json"}
    record = doc["components"]["schemas"]["UsageRecord"]
    assert record["required"] == ["timestamp", "predictions", "compute_hours"]
    assert record["additionalProperties"] is False and record["properties"]["predictions"]["minimum"] == 0
    assert doc["components"]["securitySchemes"]["apiKey"]["scheme"] == "bearer"

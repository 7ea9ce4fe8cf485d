"""The /vision/api handlers over real HTTP: an in-process tornado Application built from
``server.api_handlers`` on a free port (fast), plus one check against the real server subprocess."""
from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import pytest
import tornado.ioloop
import tornado.web
from helpers import OTHER_USER, USER, model_rows, submission_body

from tests.support.server_process import free_port, get_json
from vision_widgets.core.context import Context
from vision_widgets.core.identity import sessions
from vision_widgets.server import api_handlers
from vision_widgets.services import model360
from vision_widgets.services import registration

NAME = "Secret model"


class FakeServer:
    """What the handlers need of the Voila app: kernel counts for the health endpoint."""

    def kernel_stats(self) -> dict:
        return {"running": 0, "pool_size": 0, "pool_ready": 0, "pool_starting": 0}


class Api:
    """A tornado server in a thread; ``request`` speaks HTTP to it with http.client."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.port = free_port()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        assert self._ready.wait(10), "the API server did not start"

    def _run(self) -> None:
        asyncio.set_event_loop(asyncio.new_event_loop())
        app = tornado.web.Application(api_handlers(FakeServer(), "/", ctx=self.ctx))
        self._server = app.listen(self.port, address="127.0.0.1")
        self._loop = tornado.ioloop.IOLoop.current()
        self._ready.set()
        self._loop.start()

    def stop(self) -> None:
        def shutdown():
            self._server.stop()
            self._loop.stop()

        self._loop.add_callback(shutdown)
        self._thread.join(10)

    def request(self, method: str, path: str, body: bytes | None = None, token: str | None = None,
                headers: dict | None = None) -> tuple[int, Any, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        hdrs = {"Content-Type": "application/json"}
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        hdrs.update(headers or {})
        try:
            conn.request(method, path, body=body, headers=hdrs)
            resp = conn.getresponse()
            raw = resp.read()
            return resp.status, resp.headers, json.loads(raw or b"{}")
        finally:
            conn.close()

    def submit(self, name: str, body: bytes | None, token: str | None = None, **kw):
        return self.request("POST", f"/vision/api/models/{quote(name, safe='')}/profiles", body, token, **kw)


@pytest.fixture
def api_for(ctx):
    """``api_for(upload_limit=None) -> Api`` over the test database (a smaller limit when given)."""
    started = []

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


def test_201_with_the_drift_summary_and_the_model_becomes_active(ctx, login, api, reg):
    status, headers, body = api.submit(NAME, submission_body(NAME), reg.upload_token)
    assert status == 201, body
    assert body["status"] == "accepted" and body["model"] == NAME
    assert isinstance(body["dataset_drift"], bool) and 0 <= body["drift_share"] <= 1
    assert isinstance(body["drifted_features"], list)
    assert headers["Content-Type"].startswith("application/json") and headers["Cache-Control"] == "no-store"
    assert model360.model_360(ctx, login(USER), NAME).model.status == "active"


def test_production_without_labels_then_its_labels_are_both_accepted(ctx, login, api, reg):
    """Label-free production first (201, a new batch), its labels later under the same label (201, stored as
    labels: no new drift point); labels profiled against another training profile are 422."""
    from helpers import client_profiles, demo_frames

    from vision_widgets import client
    from vision_widgets.core.catalog import records
    from vision_widgets.demo import datasets
    from vision_widgets.services import submissions

    fraud = datasets.MODELS[0]
    ref, _ = client_profiles()
    _, prod = demo_frames()
    unlabelled = client.profile(prod.drop(columns=[fraud.target]), reference=ref, window="7D")
    labelled = client.profile(prod, reference=ref, window="7D")
    status, _, body = api.submit(NAME, submission_body(NAME, ref, unlabelled, label="week 1-8"), reg.upload_token)
    assert status == 201 and body["stored_as"] == "production", body
    token = submissions.issue_upload_token(ctx, login(USER), NAME)[0]
    other_ref = client.profile(demo_frames(train_rows=600)[0], ref.roles)
    status, _, body = api.submit(NAME, submission_body(NAME, prod_profile=client.profile(prod, reference=other_ref),
                                                       with_reference=False, label="week 1-8"), token)
    assert status == 422 and body["field"] == "production.reference_id", body
    status, _, body = api.submit(NAME, submission_body(NAME, prod_profile=labelled, with_reference=False,
                                                       label="week 1-8"), token)
    assert status == 201 and body["stored_as"] == "labels", body
    with ctx.store.read() as conn:
        model = records.get(conn, NAME)
        assert [p.kind for p in records.profiles_of(conn, model.id)] == ["reference", "production", "labels"]
        assert len(records.drift_history(conn, model.id)) == 1


def test_a_labelled_batch_sent_without_a_label_is_a_new_batch_not_late_labels(ctx, login, api, reg):
    """Every submission without a label is stored as "client submission": a later one that carries labels
    is new production data (its own drift point), not the labels of the earlier one."""
    from helpers import client_profiles, demo_frames

    from vision_widgets import client
    from vision_widgets.core.catalog import records
    from vision_widgets.demo import datasets
    from vision_widgets.services import submissions

    ref, _ = client_profiles()
    _, prod = demo_frames()
    unlabelled = client.profile(prod.drop(columns=[datasets.MODELS[0].target]), reference=ref, window="7D")
    status, _, body = api.submit(NAME, submission_body(NAME, ref, unlabelled), reg.upload_token)
    assert status == 201 and body["stored_as"] == "production", body
    token = submissions.issue_upload_token(ctx, login(USER), NAME)[0]
    labelled = client.profile(prod, reference=ref, window="7D")
    status, _, body = api.submit(NAME, submission_body(NAME, prod_profile=labelled, with_reference=False), token)
    assert status == 201 and body["stored_as"] == "production", body
    with ctx.store.read() as conn:
        model = records.get(conn, NAME)
        assert [p.kind for p in records.profiles_of(conn, model.id)] == ["reference", "production", "production"]
        assert len(records.drift_history(conn, model.id)) == 2


def test_a_name_with_spaces_and_html_is_url_decoded(ctx, login, api, register_restricted):
    name = "<b>Q4</b> churn / v2"
    reg = register_restricted(name)
    status, _, body = api.submit(name, submission_body(name), reg.upload_token)  # '/' sent as %2F
    assert status == 201 and body["model"] == name, body
    assert model360.model_360(ctx, login(USER), name).model.status == "active"


@pytest.mark.parametrize("body, message", [
    (b"{not json", "not valid JSON"),
    (b"", "empty"),
])
def test_400_for_a_body_that_is_not_json_or_empty(ctx, api, reg, body, message):
    status, _, answer = api.submit(NAME, body, reg.upload_token)
    assert status == 400 and message in answer["message"]
    assert answer == {"status": "error", "code": 400, "message": answer["message"]}
    assert model_rows(ctx)["profiles"] == 0


@pytest.mark.parametrize("make, field", [
    (lambda: submission_body("Churn model"), "model"),
    (lambda: submission_body(NAME, production={"schema": "vision.profile", "schema_version": 7}),
     "production.schema_version"),
    (lambda: submission_body(NAME, with_reference=False), "reference"),
    (lambda: submission_body(NAME, label="x" * 200), "label"),
])
def test_422_names_the_invalid_field_and_stores_nothing(ctx, api, reg, make, field):
    """``field`` is the JSON path of the value at fault; the message names its top-level field."""
    before = model_rows(ctx)
    status, _, answer = api.submit(NAME, make(), reg.upload_token)
    assert status == 422, answer
    assert answer["field"] == field and f'Field "{field.split(".")[0]}"' in answer["message"]
    assert model_rows(ctx) == before


def test_422_for_json_that_is_not_a_submission(api, reg):
    status, _, answer = api.submit(NAME, b'{"rows": 3}', reg.upload_token)
    assert status == 422 and '"schema"' in answer["message"]


@pytest.mark.parametrize("auth", [None, "Basic dXNlcjpwYXNz", "Bearer ", "Bearer not-a-real-token"])
def test_401_for_a_missing_or_bad_token(ctx, api, reg, auth):
    headers = {} if auth is None else {"Authorization": auth}
    status, hdrs, answer = api.submit(NAME, submission_body(NAME), headers=headers)
    assert status == 401, answer
    assert hdrs["WWW-Authenticate"].startswith("Bearer")
    assert model_rows(ctx)["profiles"] == 0


def test_401_for_an_expired_token(ctx, api, reg, clock):
    clock.advance(hours=24)
    status, _, answer = api.submit(NAME, submission_body(NAME), reg.upload_token)
    assert status == 401 and "expired" in answer["message"]


def test_401_for_a_used_token(ctx, api, reg):
    assert api.submit(NAME, submission_body(NAME), reg.upload_token)[0] == 201
    status, _, answer = api.submit(NAME, submission_body(NAME, with_reference=False), reg.upload_token)
    assert status == 401 and "already used" in answer["message"]
    assert model_rows(ctx)["profiles"] == 2


def test_403_for_the_token_of_another_model(ctx, api, reg, register_restricted):
    register_restricted("Churn model", OTHER_USER)
    status, _, answer = api.submit("Churn model", submission_body("Churn model"), reg.upload_token)
    assert status == 403 and "another model" in answer["message"]
    assert model_rows(ctx)["profiles"] == 0


def test_404_for_an_unknown_model(api, reg):
    status, _, answer = api.submit("No such model", submission_body("No such model"), reg.upload_token)
    assert status == 404 and "No such model" in answer["message"]


def test_a_bad_token_learns_nothing_about_which_models_exist(api, reg):
    for name in (NAME, "No such model"):
        status, _, answer = api.submit(name, submission_body(name), "not-a-token")
        assert status == 401 and "not valid" in answer["message"]


def test_a_model_name_with_a_percent_sign_receives_its_submission(ctx, api, register_restricted):
    name = "Churn 100%41 test"
    token = register_restricted(name).upload_token
    status, _, answer = api.submit(name, submission_body(name), token)
    assert status == 201, answer


def test_413_for_a_body_over_the_limit(ctx, api_for, reg):
    body = submission_body(NAME)
    api = api_for(upload_limit=len(body) - 1)
    status, _, answer = api.submit(NAME, body, reg.upload_token)
    assert status == 413 and f"{len(body) - 1:,}" in answer["message"]
    assert model_rows(ctx)["profiles"] == 0
    # at the limit it goes through
    api = api_for(upload_limit=len(body))
    assert api.submit(NAME, body, reg.upload_token)[0] == 201


def _declare_huge_body(port: int, size: int = 2 * 1024**3) -> tuple[bytes, float]:
    """Send only the headers of a POST declaring ``size`` bytes; return the answer and how long it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall((f"POST /vision/api/models/{quote(NAME)}/profiles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"Authorization: Bearer x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n"
                   ).encode())
        s.sendall(b"{" * 1024)  # a first chunk, as a client would; the rest never comes
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            if not chunk:
                break
            answer += chunk
    return answer, time.monotonic() - started


def test_413_from_the_declared_length_before_the_body_is_read(ctx, api_for, reg):
    api = api_for(upload_limit=64 * 1024)
    answer, took = _declare_huge_body(api.port, 1024 * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert took < 10  # answered without waiting for a megabyte that never comes


def test_a_2gb_declared_upload_is_refused_with_413(ctx, api):
    answer, _ = _declare_huge_body(api.port)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b"the limit is 10,485,760" in answer


def test_openapi_describes_the_submission_endpoint(api):
    status, _, doc = api.request("GET", "/vision/api/openapi.json")
    assert status == 200 and doc["openapi"].startswith("3.")
    post = doc["paths"]["/vision/api/models/{name}/profiles"]["post"]
    assert set(post["responses"]) >= {"201", "400", "401", "403", "404", "413", "422"}
    assert post["security"] == [{"uploadToken": []}]
    assert doc["components"]["securitySchemes"]["uploadToken"]["scheme"] == "bearer"
    schema = post["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(doc["components"]["schemas"][schema]["required"]) == {"schema", "model", "production"}
    assert "10,485,760" in post["requestBody"]["description"]


def test_health_answers_without_a_kernel(ctx, api):
    from vision_widgets.core.jobs import workers

    status, _, body = api.request("GET", "/vision/api/health")
    assert status == 503 and body["status"] == "fail"  # no worker has ever run: background jobs would wait
    with ctx.store.write() as conn:
        workers.beat(conn, "host:1:abc", "host", 1, ctx.now())
    status, _, body = api.request("GET", "/vision/api/health")
    assert status == 200 and body["status"] == "ok"


def test_get_on_the_submission_endpoint_is_not_allowed(api, reg):
    status, _, body = api.request("GET", f"/vision/api/models/{quote(NAME)}/profiles")
    assert status == 405 and body["status"] == "error"


# -- the real server ---------------------------------------------------------------------------------


def _post(url: str, body: bytes, token: str) -> tuple[int, dict]:
    import urllib.error
    import urllib.request

    req = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_real_server_accepts_then_refuses_a_reused_token(real_server, real_ctx):
    from helpers import demo_spec


    name = "Real API model"
    owner = sessions.operator_session(real_ctx, USER)
    reg = registration.register_model(real_ctx, owner, demo_spec(name, restricted=True))
    url = real_server.url(f"vision/api/models/{quote(name, safe='')}/profiles")

    status, answer = _post(url, submission_body(name), reg.upload_token)
    assert status == 201 and answer["status"] == "accepted", answer
    assert model360.model_360(real_ctx, owner, name).model.status == "active"
    status, answer = _post(url, submission_body(name, with_reference=False), reg.upload_token)
    assert status == 401 and "already used" in answer["message"]
    # A spent token is refused before the model is looked up: the caller learns nothing about names.
    assert _post(real_server.url("vision/api/models/Nope/profiles"), b"{}", reg.upload_token)[0] == 401
    doc = get_json(real_server.url("vision/api/openapi.json"))
    assert "/vision/api/models/{name}/profiles" in doc["paths"]


def test_the_real_server_refuses_a_2gb_upload_from_its_headers(real_server):
    port = int(real_server.base_url.rsplit(":", 1)[1].strip("/"))
    answer, took = _declare_huge_body(port)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:300]
    assert took < 20


# -- hostile bodies over HTTP ---------------------------------------------------------------------------
from hostile_payloads import HOSTILE  # noqa: E402

from vision_widgets.core.errors import MalformedJSON  # noqa: E402


@pytest.mark.parametrize("case, make, kind, field, words", HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_body_gets_400_or_422_naming_its_field(ctx, api, reg, case, make, kind, field, words):
    before = model_rows(ctx)
    status, _, answer = api.submit(NAME, make(), reg.upload_token)
    assert status == (400 if kind is MalformedJSON else 422), answer
    assert answer.get("field") == field and words in answer["message"], answer
    assert model_rows(ctx) == before
    # the refusal did not spend the token
    assert api.submit(NAME, submission_body(NAME), reg.upload_token)[0] == 201


# -- methods: a 405 says which ones the resource has (RFC 9110) ----------------------------------------


@pytest.mark.parametrize("method, path, allow", [
    ("TRACE", "/vision/api/health", "GET"),
    ("TRACE", "/vision/api/openapi.json", "GET"),
    ("TRACE", f"/vision/api/models/{quote(NAME)}/profiles", "POST"),
    ("DELETE", "/vision/api/health", "GET"),
    ("POST", "/vision/api/openapi.json", "GET"),
    ("GET", f"/vision/api/models/{quote(NAME)}/profiles", "POST"),
    ("PUT", f"/vision/api/models/{quote(NAME)}/profiles", "POST"),
])
def test_405_carries_an_allow_header(api, reg, method, path, allow):
    status, headers, body = api.request(method, path)
    assert status == 405 and headers["Allow"] == allow, (status, dict(headers))
    assert body == {"status": "error", "code": 405, "message": "Method Not Allowed"}


def test_every_api_route_answers_trace_with_405_and_allow():
    from vision_widgets.api import HANDLERS

    for _suffix, handler in HANDLERS:
        assert handler.allowed_methods(), handler
        assert "TRACE" not in handler.allowed_methods()


def test_the_openapi_schema_states_what_the_handler_enforces(api):
    doc = api.request("GET", "/vision/api/openapi.json")[2]
    sub = doc["components"]["schemas"]["Submission"]["properties"]
    assert sub["model"]["minLength"] == 1 and sub["model"]["pattern"] == r"\S"
    assert sub["label"]["maxLength"] == 128 and sub["production"]["type"] == "object"
    assert doc["paths"]["/vision/api/models/{name}/profiles"]["post"]["parameters"][0]["schema"]["minLength"] == 1


@pytest.mark.parametrize("model", ["", "   "])
def test_a_model_name_the_schema_refuses_is_422(ctx, api, reg, model):
    body = json.loads(submission_body(NAME))
    body["model"] = model
    status, _, answer = api.submit(NAME, json.dumps(body).encode(), reg.upload_token)
    assert status == 422 and answer["field"] == "model", answer


# -- the token is checked from the headers, before the body is read ---------------------------------------


def _headers_then_wait(port: int, token: str | None, name: str = NAME, size: int = 9_500_000) -> bytes:
    """Send the headers of a ``size``-byte POST and none of its body, then wait for an answer.

    The body never comes: a server that reads the body before checking the token never answers
    (the socket times out and the test fails); one that checks the headers first answers at once.
    No body byte is sent on purpose: bytes the server has not read when it closes the connection
    make the kernel answer with a TCP reset, which can discard the response before the test reads
    it (the cause of this test's earlier intermittent ConnectionResetError).
    """
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall((f"POST /vision/api/models/{quote(name, safe='')}/profiles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   f"{auth}Content-Type: application/json\r\nContent-Length: {size}\r\n\r\n").encode())
        answer = b""
        while not (b"\r\n\r\n" in answer and answer.rstrip().endswith(b"}")):
            chunk = s.recv(65536)  # socket.timeout here: the server is waiting for the body
            if not chunk:
                break
            answer += chunk
        rest = s.recv(65536)  # then the server closes the connection instead of reading the body
    return answer + rest


@pytest.mark.parametrize("token, status", [(None, 401), ("not-a-real-token", 401)])
def test_a_large_upload_without_a_valid_token_is_refused_before_its_body_arrives(api, reg, token, status):
    answer = _headers_then_wait(api.port, token)
    assert answer.startswith(f"HTTP/1.1 {status}".encode()), answer[:300]
    assert b"www-authenticate: bearer" in answer.lower()


def test_a_valid_token_for_another_or_no_model_is_refused_before_the_body(api, reg, register_restricted):
    register_restricted("Churn model", OTHER_USER)
    assert _headers_then_wait(api.port, reg.upload_token, "Churn model").startswith(b"HTTP/1.1 403")
    assert _headers_then_wait(api.port, reg.upload_token, "No such model").startswith(b"HTTP/1.1 404")


def test_the_header_check_does_not_spend_the_token(ctx, api, reg):
    assert _headers_then_wait(api.port, reg.upload_token, "No such model").startswith(b"HTTP/1.1 404")
    status, _, answer = api.submit(NAME, submission_body(NAME), reg.upload_token)
    assert status == 201, answer


def test_64_aborted_unauthenticated_uploads_leave_no_memory_behind(real_server):
    """A resource-leak bound, not a speed limit: 64 clients each send the headers of a 9.5 MB upload
    without a valid token and 1 MiB of its body, and keep the connection open. A server that buffered
    the bodies before the token check would hold 64 MiB more while they are open."""
    import psutil

    server = psutil.Process(real_server.proc.pid)
    port = int(real_server.base_url.rsplit(":", 1)[1].strip("/"))
    head = (f"POST /vision/api/models/{quote(NAME, safe='')}/profiles HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            "Authorization: Bearer not-a-real-token\r\nContent-Type: application/json\r\n"
            "Content-Length: 9500000\r\n\r\n").encode()
    part = b"[" * (1 << 20)

    def aborted_upload() -> socket.socket:
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        try:
            s.sendall(head)
            s.sendall(part)
        except OSError:  # the server answered 401 and closed the connection: the rest is refused
            pass
        return s

    def settled_rss() -> int:
        """The server's RSS once it has caught up with what was sent (two samples 0.2 s apart agree)."""
        real_server.health()  # one round trip through the server's event loop
        last = server.memory_info().rss
        for _ in range(25):
            time.sleep(0.2)
            now = server.memory_info().rss
            if abs(now - last) < (1 << 20):
                return now
            last = now
        return last

    for s in [aborted_upload() for _ in range(4)]:  # warm up: the handler's first use allocates
        s.close()
    before = settled_rss()
    open_uploads = [aborted_upload() for _ in range(64)]
    during = settled_rss()
    for s in open_uploads:
        s.close()
    after = settled_rss()
    mib = 1 << 20
    report = f"server RSS {before / mib:.0f} MiB before, {during / mib:.0f} with 64 uploads open, {after / mib:.0f} after"
    print(report)
    assert during - before < 30 * mib and after - before < 30 * mib, report
    assert real_server.health()["status"] == "ok"

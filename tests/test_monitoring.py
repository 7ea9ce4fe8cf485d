"""Health checks: each one against a real thing (the database, a worker's heartbeat, an LLM endpoint on
loopback, a connector's last test, the disk with injected numbers, models under a frozen clock), the
history and its pruning, the permission matrix, and the unauthenticated health endpoint (200/503, no
secret, no name)."""
from __future__ import annotations

import dataclasses
import json
import socket
import threading
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import tornado.httpclient
import tornado.web
from helpers import ADMIN, USER, demo_spec, write_demo_files
from sqlalchemy import func, select, text, update

from vision_widgets import server as srv
from vision_widgets import worker
from vision_widgets.core.context import Context
from vision_widgets.core.errors import PermissionDenied
from vision_widgets.core.jobs import workers
from vision_widgets.core.monitoring import FAIL, KERNELS, OK, WARN, checks, history
from vision_widgets.core.monitoring.checks import DiskUsage
from vision_widgets.core.storage import schema
from vision_widgets.services import monitoring, registration

from test_server_unit import run_async

SECRET = "sk-test-0123456789-do-not-leak"
CONNECTOR_PASSWORD = "hunter2-connector-password"


def beat(ctx, at=None):
    with ctx.store.write() as conn:
        workers.beat(conn, "host:1:abc", "host", 1, at or ctx.now())


def one(found, name, subject=""):
    return next(c for c in found if c.check == name and c.subject == subject)


# -- database, worker, queue ---------------------------------------------------------------------
def test_database_is_reachable_with_its_latency_and_size(ctx):
    found = checks.database(ctx.store)
    db, size = one(found, "database"), one(found, "database_size")
    assert db.status == OK and db.critical and db.unit == "ms" and 0 <= db.value < 5000
    if ctx.settings.uses_sqlite:
        expected = (ctx.settings.home / "vision.db").stat().st_size
    else:
        with ctx.store.read() as conn:
            expected = conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one()
    assert expected > 0 and expected * 0.9 <= size.value and size.unit == "bytes"


def test_an_unreachable_database_fails_critically_without_raising(tmp_path):
    from vision_widgets.core.storage.engine import Store

    store = Store(f"sqlite:///{tmp_path}/missing-dir/nothing.db")
    db = one(checks.database(store), "database")
    assert db.status == FAIL and db.critical and "cannot be reached" in db.message


def test_worker_alive_then_dead_after_its_lease(ctx, clock):
    lease = timedelta(seconds=ctx.settings.job_lease_seconds)
    with ctx.store.read() as conn:
        never = one(checks.worker(conn, ctx.now(), lease), "worker")
    assert never.status == FAIL and never.critical and "No worker has ever run" in never.message
    beat(ctx)
    with ctx.store.read() as conn:
        alive, queue = checks.worker(conn, ctx.now(), lease)
    assert alive.status == OK and queue.check == "queue" and queue.value == 0
    clock.advance(ctx.settings.job_lease_seconds + 5)
    with ctx.store.read() as conn:
        dead = one(checks.worker(conn, ctx.now(), lease), "worker")
    assert dead.status == FAIL and dead.value >= ctx.settings.job_lease_seconds and "not seen for" in dead.message


# -- LLM endpoint on loopback ---------------------------------------------------------------------
class _Models(BaseHTTPRequestHandler):
    delay = 0.0
    seen_auth: list = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).seen_auth.append(self.headers.get("Authorization"))
        time.sleep(self.delay)
        body = json.dumps({"data": [{"id": "gpt-test"}]}).encode() if self.path.endswith("/models") else b"{}"
        try:
            self.send_response(200 if self.path.endswith("/models") else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def llm_server():
    started = []

    def start(delay: float = 0.0):
        handler = type("Handler", (_Models,), {"delay": delay, "seen_auth": []})
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        started.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/v1", handler

    yield start
    for server in started:
        server.shutdown()
        server.server_close()


def test_llm_endpoint_answering_is_ok_with_its_latency_and_the_key_only_in_the_header(settings, llm_server):
    url, handler = llm_server()
    s = dataclasses.replace(settings, openai_base_url=url, openai_api_key=SECRET)
    found = checks.llm(s)
    assert found.status == OK and not found.critical and found.value is not None and found.value >= 0
    assert handler.seen_auth == [f"Bearer {SECRET}"]
    assert SECRET not in found.message and "127.0.0.1" in found.message


def test_a_slow_llm_endpoint_fails_within_the_timeout(settings, llm_server):
    url, _ = llm_server(delay=3.0)
    s = dataclasses.replace(settings, openai_base_url=url, openai_api_key=SECRET)
    start = time.monotonic()
    found = checks.llm(s, timeout=0.5)
    assert time.monotonic() - start < 2.0
    assert found.status == FAIL and "did not answer within 0.5 s" in found.message and SECRET not in found.message


def test_an_unreachable_llm_endpoint_fails_and_none_configured_is_neutral(settings):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    down = checks.llm(dataclasses.replace(settings, openai_base_url=f"http://u:{SECRET}@127.0.0.1:{port}/v1"),
                      timeout=1.0)
    assert down.status == FAIL and "cannot be reached" in down.message and SECRET not in down.message
    none = checks.llm(dataclasses.replace(settings, openai_base_url=None))
    assert none.status == OK and not none.critical and "No LLM endpoint is configured" in none.message


# -- connectors -------------------------------------------------------------------------------------
def add_connector(ctx, name, *, at=None, ok=None, ms=None, message="", secrets=None, config="{}"):
    now = ctx.now()
    with ctx.store.write() as conn:
        conn.execute(schema.connectors.insert().values(
            name=name, name_key=name.lower(), type="sql", description="", config=config, secrets=secrets,
            created_by=ADMIN, created_at=now, updated_at=now, last_test_at=at, last_test_ok=ok, last_test_ms=ms,
            last_test_message=message))


def test_each_connector_says_its_last_test_and_its_age(ctx, clock):
    add_connector(ctx, "warehouse", at=ctx.now(), ok=True, ms=42.0)
    add_connector(ctx, "lake", at=ctx.now(), ok=False, ms=10_000.0, message="The host did not answer within 10 s.")
    add_connector(ctx, "fresh-one")
    clock.advance(3600)
    with ctx.store.read() as conn:
        found = checks.connectors(conn, ctx.now())
    assert one(found, "connector", "local").status == OK
    good = one(found, "connector", "warehouse")
    assert good.status == OK and good.value == 42.0 and "passed 60 min ago in 42 ms" in good.message
    bad = one(found, "connector", "lake")
    assert bad.status == FAIL and "failed 60 min ago: The host did not answer" in bad.message
    assert one(found, "connector", "fresh-one").status == WARN
    assert "Never tested" in one(found, "connector", "fresh-one").message
    clock.advance(8 * 86400)
    with ctx.store.read() as conn:
        old = one(checks.connectors(conn, ctx.now()), "connector", "warehouse")
    assert old.status == WARN and "test it again" in old.message


# -- disk ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("free, status", [(50, OK), (10, OK), (9, WARN), (2, WARN), (1, FAIL)])
def test_disk_thresholds(tmp_path, free, status):
    found = checks.disk(tmp_path, lambda _p: DiskUsage(total=100 * 2**30, free=free * 2**30))
    assert found.status == status and found.value == pytest.approx(free)
    assert f"{free}.0% " in found.message or f"({free}.0%)" in found.message


# -- models ------------------------------------------------------------------------------------------
@pytest.fixture
def fraud(ctx, login, settings):
    train, prod = write_demo_files(settings.home / "data")
    registration.register_model(ctx, login(USER), demo_spec("Fraud detection", train, prod))
    registration.register_model(ctx, login(USER), demo_spec("Secret model", restricted=True))
    return "Fraud detection"


def set_cadence(ctx, name, cadence):
    with ctx.store.write() as conn:
        conn.execute(update(schema.models).where(schema.models.c.name == name).values(cadence=cadence))


def model(ctx, name):
    with ctx.store.read() as conn:
        return next(m for m in checks.models(conn, ctx.now()) if m.name == name)


def test_model_freshness_against_its_cadence(ctx, clock, fraud):
    first = model(ctx, fraud)
    assert first.freshness == "no cadence set" and first.status == OK and first.age_seconds == 0
    assert first.dataset_drift is not None and first.drift_share is not None and not first.awaiting_metrics
    set_cadence(ctx, fraud, "1D")
    clock.advance(hours=20)
    assert (model(ctx, fraud).freshness, model(ctx, fraud).status) == ("fresh", OK)
    clock.advance(hours=10)
    assert (model(ctx, fraud).freshness, model(ctx, fraud).status) == ("late", WARN)
    clock.advance(hours=20)
    stale = model(ctx, fraud)
    assert (stale.freshness, stale.status) == ("stale", FAIL) and stale.age_seconds == 50 * 3600
    rows = checks.model_checks([stale])
    assert one(rows, "model_freshness", fraud).message.startswith("Stale (expected every 1D); last production data")


def test_a_restricted_model_awaits_its_client_metrics(ctx, fraud):
    secret = model(ctx, "Secret model")
    assert secret.awaiting_metrics and secret.freshness == "awaiting client metrics" and secret.status == WARN
    assert secret.last_data_at is None and secret.dataset_drift is None


@pytest.mark.parametrize("cadence", ["1M", "monthly", "soon", "0D"])
def test_an_unreadable_stored_cadence_is_a_warning_not_no_cadence(ctx, clock, fraud, cadence):
    # review 11, finding 9: "1M" was read as one minute, "monthly" or "soon" as "no cadence set" (OK)
    set_cadence(ctx, fraud, cadence)
    found = model(ctx, fraud)
    assert (found.freshness, found.status) == ("cadence unreadable", WARN)
    message = one(checks.model_checks([found]), "model_freshness", fraud).message
    assert message.startswith(f"Cadence unreadable: The cadence {cadence!r}") and "last production data" in message


def test_a_readable_stored_cadence_uses_the_shared_parser(ctx, clock, fraud):
    set_cadence(ctx, fraud, "2 days")
    clock.advance(hours=40)
    assert (model(ctx, fraud).freshness, model(ctx, fraud).status) == ("fresh", OK)


# -- history, the worker's job, the server's own checks ---------------------------------------------
def count_rows(ctx):
    with ctx.store.read() as conn:
        return conn.execute(select(func.count()).select_from(schema.health_checks)).scalar_one()


def test_the_worker_job_records_each_check_and_prunes_a_week_old_history(ctx, clock, fraud):
    beat(ctx)
    n = worker.record_health(ctx)
    assert count_rows(ctx) == n and n >= 8
    clock.advance(days=8)
    beat(ctx)
    worker.record_health(ctx)
    assert count_rows(ctx) == n  # the first run is gone, the second kept
    with ctx.store.read() as conn:
        rows = history.read(conn)
    assert {r.checked_at for r in rows} == {ctx.now()}
    assert {r.result.check for r in rows} >= {"database", "worker", "queue", "llm", "disk", "connector",
                                              "model_freshness", "model_drift"}


def test_the_server_records_its_own_checks_and_the_page_reads_them(ctx, login):
    monitoring.record_server_checks(ctx, checks.server(3600.0, 3, 450 * 2**20, pool_size=2))
    found = monitoring.health(ctx, login(ADMIN))
    kernels = found.of(KERNELS)[0]
    assert kernels.value == 450 * 2**20 and "3 kernel(s) open (2 kept ready" in kernels.message
    assert found.server_recorded_at == ctx.now()


# -- permissions ----------------------------------------------------------------------------------
@pytest.mark.parametrize("call", [
    lambda ctx, p: monitoring.health(ctx, p),
    lambda ctx, p: monitoring.history(ctx, p),
    lambda ctx, p: monitoring.run_checks_now(ctx, p),
])
def test_users_are_refused_and_admins_allowed(ctx, login, call):
    with pytest.raises(PermissionDenied):
        call(ctx, login(USER))
    assert count_rows(ctx) == 0
    assert call(ctx, login(ADMIN)) is not None


def test_check_now_records_and_history_filters_by_check(ctx, login, clock):
    admin = login(ADMIN)
    beat(ctx)
    found = monitoring.run_checks_now(ctx, admin)
    assert found.healthy and count_rows(ctx) == len(found.checks)
    assert {r.result.check for r in monitoring.history(ctx, admin, check="database")} == {"database"}
    clock.advance(hours=25)
    assert monitoring.history(ctx, login(ADMIN)) == []  # the default window is the last 24 hours


# -- the health endpoint ------------------------------------------------------------------------------
class FakeServer:
    def kernel_stats(self):
        return {"running": 2, "pool_size": 1, "pool_ready": 1, "pool_starting": 0}

    def server_checks(self):
        return checks.server(12.0, 2, 300 * 2**20, pool_size=1)


def fetch_health(ctx):
    async def run():
        app = tornado.web.Application(srv.api_handlers(FakeServer(), ctx=ctx))
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        sock.close()
        http = app.listen(port, "127.0.0.1")
        try:
            client = tornado.httpclient.AsyncHTTPClient()
            return await client.fetch(f"http://127.0.0.1:{port}/vision/api/health", raise_error=False)
        finally:
            http.stop()

    return run_async(run)


def test_health_endpoint_is_503_without_a_worker_and_200_with_one(ctx, clock):
    resp = fetch_health(ctx)
    body = json.loads(resp.body)
    assert resp.code == 503 and body["status"] == "fail"
    assert one_dict(body["checks"], "worker")["status"] == FAIL
    assert body["kernels"]["running"] == 2 and body["worker"]["state"] == "never seen"
    beat(ctx)
    resp = fetch_health(ctx)
    body = json.loads(resp.body)
    assert resp.code == 200 and body["status"] == "ok" and body["worker"]["state"] == "ok"
    # live: the critical checks and the server's own; nothing recorded yet
    assert {c["check"] for c in body["checks"]} == {"database", "worker", "queue", "uptime", "kernels"}
    assert body["recorded_at"] is None
    worker.record_health(ctx)
    body = json.loads(fetch_health(ctx).body)
    assert {c["check"] for c in body["checks"]} == {"database", "worker", "queue", "llm", "disk", "uptime", "kernels"}
    assert body["recorded_at"] == ctx.now().isoformat()
    clock.advance(minutes=11)  # a recorded run older than 10 min is not repeated
    beat(ctx)
    body = json.loads(fetch_health(ctx).body)
    assert body["recorded_at"] is None and "llm" not in {c["check"] for c in body["checks"]}


def one_dict(found, name):
    return next(c for c in found if c["check"] == name)


def test_health_endpoint_holds_no_secret_no_name_and_no_kernel_id(ctx, settings, clock, fraud):
    beat(ctx)
    sealed = "gAAAAA-sealed-token-not-a-secret-itself"
    add_connector(ctx, "pg-warehouse", at=ctx.now(), ok=False, ms=5.0,
                  message="Wrong user name or password.", secrets=sealed,
                  config=json.dumps({"url": f"postgresql://reader:{CONNECTOR_PASSWORD}@db.internal/sales"}))
    with_key = Context(dataclasses.replace(settings, openai_base_url="http://127.0.0.1:9/v1",
                                           openai_api_key=SECRET), ctx.store, clock)
    worker.record_health(with_key)
    resp = fetch_health(with_key)
    text = resp.body.decode()
    body = json.loads(text)
    assert resp.code == 200  # a failing connector or LLM is not critical
    for leak in (SECRET, CONNECTOR_PASSWORD, "db.internal", "pg-warehouse", "Fraud detection", "Secret model", sealed,
                 "127.0.0.1", ":9", "free of", "KiB", "MiB"):
        assert leak not in text
    assert body["connectors"] == {"ok": 1, "warn": 0, "fail": 1}
    assert body["models"] == {"ok": 1, "warn": 1, "fail": 0}  # no cadence set; awaiting client metrics
    llm = one_dict(body["checks"], "llm")
    assert llm["status"] == FAIL and "message" not in llm  # status and value only (review 11, finding 13)
    assert "database_size" not in {c["check"] for c in body["checks"]}
    assert all("message" in c for c in body["checks"] if c["critical"])


def test_database_size_on_postgresql_is_pg_database_size(tmp_path):
    from tests.support.postgres import pg_bin_dir, start_cluster
    from vision_widgets.core.config import load_settings

    if pg_bin_dir() is None:
        pytest.skip("PostgreSQL is not installed (apt-get install postgresql; `make test` installs it)")
    cluster = start_cluster()
    try:
        settings = load_settings({"VISION_HOME": str(tmp_path / "home"), "VISION_DATABASE_URL": cluster.new_database()})
        ctx = Context.open(settings, upgrade=True)
        try:
            found = checks.database(ctx.store)
            with ctx.store.read() as conn:
                expected = conn.execute(select(func.pg_database_size(func.current_database()))).scalar_one()
        finally:
            ctx.store.dispose()
    finally:
        cluster.stop()
    assert one(found, "database").status == OK
    size = one(found, "database_size")
    assert size.value == pytest.approx(expected, rel=0.05) and size.value > 1_000_000


# -- review 11: bounded checks, the key kept home, the endpoint's own executor -----------------------
def _trickle_server():
    """Answers 200 and then one byte a second: each socket read is fast, the whole answer never ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(5)

    def serve():
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return

            def one(conn=conn):
                try:
                    conn.recv(65536)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n")
                    while True:
                        time.sleep(0.5)
                        conn.sendall(b"x")
                except OSError:
                    pass

            threading.Thread(target=one, daemon=True).start()

    threading.Thread(target=serve, daemon=True).start()
    return sock


def test_a_trickling_llm_endpoint_fails_within_the_whole_checks_timeout(settings):
    # finding 1: the 3 s timeout was per socket operation; this endpoint kept the check (and the endpoint) waiting
    sock = _trickle_server()
    try:
        s = dataclasses.replace(settings, openai_base_url=f"http://127.0.0.1:{sock.getsockname()[1]}/v1")
        start = time.monotonic()
        found = checks.llm(s, timeout=1.0)
        assert time.monotonic() - start < 2.5
        assert found.status == FAIL and "did not answer within 1 s" in found.message
    finally:
        sock.close()


def _serve(handler_body, host="127.0.0.1"):
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            handler_body(self)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_the_llm_key_never_follows_a_redirect(settings):
    # finding 2: urllib followed a 302 to another host with the Authorization header
    seen = []

    def other_body(h):
        seen.append(h.headers.get("Authorization"))
        h.send_response(200)
        h.end_headers()
        h.wfile.write(b"{}")

    other = _serve(other_body)

    def redirect_body(h):
        seen.append(h.headers.get("Authorization"))
        h.send_response(302)
        h.send_header("Location", f"http://127.0.0.1:{other.server_address[1]}/steal")
        h.end_headers()

    first = _serve(redirect_body)
    try:
        s = dataclasses.replace(settings, openai_base_url=f"http://127.0.0.1:{first.server_address[1]}/v1",
                                openai_api_key=SECRET)
        found = checks.llm(s)
        assert seen == [f"Bearer {SECRET}"]  # the first host only; the other was never asked
        assert found.status == FAIL and "redirected elsewhere (HTTP 302)" in found.message
        assert SECRET not in found.message
    finally:
        other.shutdown()
        first.shutdown()


def test_the_llm_check_goes_through_the_environments_proxy(settings, monkeypatch):
    # smaller finding: ProxyHandler({}) ignored HTTPS_PROXY / HTTP_PROXY
    asked = []

    def proxy_body(h):
        asked.append(h.path)
        h.send_response(200)
        h.send_header("Content-Type", "application/json")
        h.end_headers()
        h.wfile.write(b'{"data": []}')

    proxy = _serve(proxy_body)
    try:
        for name in ("no_proxy", "NO_PROXY", "all_proxy", "ALL_PROXY"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{proxy.server_address[1]}")
        monkeypatch.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.server_address[1]}")
        s = dataclasses.replace(settings, openai_base_url="http://llm.example.invalid/v1")
        found = checks.llm(s)
        assert found.status == OK and asked == ["http://llm.example.invalid/v1/models"]
    finally:
        proxy.shutdown()


def test_anonymous_health_requests_neither_call_the_llm_nor_starve_the_default_executor(ctx, settings, clock):
    # finding 1: 12 anonymous requests, each calling a silent LLM endpoint in the default executor,
    # delayed a trivial executor call (a login, an upload) by ~6 s
    import asyncio

    from tests.support.blackhole import silent_port

    beat(ctx)
    with silent_port() as port:
        slow = Context(dataclasses.replace(settings, openai_base_url=f"http://127.0.0.1:{port}/v1",
                                           openai_api_key=SECRET), ctx.store, clock)

        async def run():
            app = tornado.web.Application(srv.api_handlers(FakeServer(), ctx=slow))
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            p = sock.getsockname()[1]
            sock.close()
            http = app.listen(p, "127.0.0.1")
            client = tornado.httpclient.AsyncHTTPClient(max_clients=50)
            try:
                start = time.monotonic()
                floods = [client.fetch(f"http://127.0.0.1:{p}/vision/api/health", raise_error=False, request_timeout=60)
                          for _ in range(12)]
                await asyncio.sleep(0.3)
                t0 = time.monotonic()
                await asyncio.get_running_loop().run_in_executor(None, lambda: None)
                waited = time.monotonic() - t0
                answers = await asyncio.gather(*floods)
                return waited, time.monotonic() - start, answers
            finally:
                http.stop()

        waited, took, answers = run_async(run)
    assert waited < 0.5 and took < 5.0
    assert {a.code for a in answers} <= {200, 503}
    assert all(SECRET not in a.body.decode() for a in answers)


def test_health_checks_that_do_not_finish_answer_503_within_the_deadline(ctx, monkeypatch):
    from vision_widgets.api import health as endpoint

    release = threading.Event()
    real = monitoring.public_report

    def stuck(*args):
        release.wait(20)
        return real(*args)

    monkeypatch.setattr(monitoring, "public_report", stuck)
    monkeypatch.setattr(endpoint, "DEADLINE", 0.5)
    try:
        answers = []
        for _ in range(endpoint.IN_FLIGHT + 2):  # the first ones time out; then no slot is left: answered at once
            start = time.monotonic()
            resp = fetch_health(ctx)
            answers.append((resp.code, json.loads(resp.body), time.monotonic() - start))
        for code, body, took in answers:
            assert code == 503 and body["status"] == "fail" and took < 2.0
            assert body["kernels"]["running"] == 2 and body["worker"]["state"] == "unknown"
            assert "did not finish" in body["checks"][0]["message"] or "not finished" in body["checks"][0]["message"]
        assert answers[-1][2] < 0.4 and "have not finished" in answers[-1][1]["checks"][0]["message"]
    finally:
        release.set()
    deadline = time.monotonic() + 10
    while endpoint._slots._value < endpoint.IN_FLIGHT and time.monotonic() < deadline:
        time.sleep(0.05)
    assert endpoint._slots._value == endpoint.IN_FLIGHT  # every slot given back once the checks ended


def test_the_worker_job_gives_its_thread_back_when_the_checks_hang(ctx, monkeypatch, caplog):
    release = threading.Event()
    monkeypatch.setattr(monitoring, "record_platform_checks", lambda c: release.wait(20))
    try:
        start = time.monotonic()
        assert worker.record_health(ctx, deadline=0.3) == 0
        assert time.monotonic() - start < 1.5
        assert worker.record_health(ctx, deadline=0.3) == 0  # the previous run still going: skipped at once
        assert "did not finish within 0.3 s" in caplog.text and "still running" in caplog.text
    finally:
        release.set()
    worker._recording.join(5)


def test_the_server_prunes_its_own_rows_without_a_worker(ctx, clock):
    # smaller finding: under --no-worker nothing pruned the uptime/kernels rows
    monitoring.record_server_checks(ctx, checks.server(1.0, 0, None))
    clock.advance(days=8)
    monitoring.record_server_checks(ctx, checks.server(2.0, 0, None))
    with ctx.store.read() as conn:
        rows = history.read(conn)
    assert {r.checked_at for r in rows} == {ctx.now()} and len(rows) == 2


def test_one_look_reads_the_models_once(ctx, login, fraud, monkeypatch):
    calls = []
    real = checks.models
    monkeypatch.setattr(checks, "models", lambda *a: calls.append(1) or real(*a))
    found = monitoring.health(ctx, login(ADMIN))
    assert len(calls) == 1 and len(found.models) == 2 and found.of("model_freshness")

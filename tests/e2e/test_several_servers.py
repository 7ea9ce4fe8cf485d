"""Two ``vision serve --no-worker`` processes and one ``vision worker`` on one PostgreSQL behave as one
app (issue 14): an account added on one logs in on the other, a session and its cookie from one work
on the other, a registration started on one is followed from the other and run by the single worker,
and wrong passwords sent to both lock the account at the threshold.

Everything runs as an operator runs it: one throw-away PostgreSQL database, ``vision init`` once
against it, then each process with its own ``VISION_HOME`` (nothing beside the database is shared but
the data folder, which every server and worker must see at the same path) and one shared
``VISION_SECRET_KEY``. The browser reaches the two servers as ``127.0.0.1:<A>`` and ``127.0.0.1:<B>``:
cookies are kept per host, not per port, so the cookie a login on A sets is sent to B too — as it
is sent to whichever server a reverse proxy picks (docs/deploy.md).

Set ``VISION_SCREENSHOTS=<folder>`` to keep screenshots of server B's pages on the way.
"""
from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.postgres import postgres_cluster  # noqa: F401 — the session fixture
from tests.support.screenshots import shot
from tests.support.server_process import stop_process
from tests.support.shell_pages import add_account, fill_registration
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.storage import schema

from .conftest import (
    LOGIN_USERNAME,
    PAGE_TIMEOUT_MS,
    REPO_ROOT,
    LiveServer,
    close_tabs,
    server_env,
    start_server,
    stop_server,
)

pytestmark = pytest.mark.e2e

ADMIN, ADMIN_PASSWORD = "sre_admin", "sre_admin123"
OWNER, OWNER_PASSWORD = "productowner_user", "po_user123"
LOCKOUT_THRESHOLD = 4
DATA_ROOT = "shared-data"  # the data folder's name, as users type it on the Register page


@dataclass
class TwoServers:
    a: LiveServer
    b: LiveServer
    worker: subprocess.Popen
    env: dict[str, str]


def _start_worker(home: Path, log_path: Path, shared: dict[str, str]) -> subprocess.Popen:
    with open(log_path, "w", encoding="utf-8") as log:
        return subprocess.Popen([sys.executable, "-m", "vision_widgets", "worker"], cwd=REPO_ROOT,
                                env=server_env(home, **shared), stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)


@pytest.fixture(scope="module")
def two_servers(postgres_cluster, tmp_path_factory) -> Iterator[TwoServers]:  # noqa: F811
    from cryptography.fernet import Fernet

    from vision_widgets.demo import datasets

    root = tmp_path_factory.mktemp("vision-two-servers")
    data = root / DATA_ROOT
    data.mkdir()
    churn = next(m for m in datasets.MODELS if m.name == "Customer churn")
    train, prod = datasets.generate(churn, train_rows=2000, weekly_rows=300)
    train_path, prod_path = datasets.file_paths(data, churn)
    train.to_csv(train_path, index=False)
    prod.to_csv(prod_path, index=False)
    shared = {
        "VISION_DATABASE_URL": postgres_cluster.new_database(),
        "VISION_SECRET_KEY": Fernet.generate_key().decode(),
        "VISION_DATA_ROOTS": str(data),
        "VISION_KERNEL_POOL": "1",
        "VISION_LOCKOUT_THRESHOLD": str(LOCKOUT_THRESHOLD),
    }
    done = subprocess.run([sys.executable, "-m", "vision_widgets", "init"], cwd=REPO_ROOT,
                          env=server_env(root / "init-home", **shared), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    worker = _start_worker(root / "worker-home", root / "worker.log", shared)
    started: list[LiveServer] = []
    try:
        for name in ("a", "b"):
            started.append(start_server(root / f"{name}-home", root / f"{name}.log", init=False,
                                        serve_args=["--no-worker"], env_extra=shared))
        yield TwoServers(started[0], started[1], worker, server_env(root / "test-home", **shared))
    finally:
        for server in started:
            stop_server(server)
        stop_process(worker)


@pytest.fixture(scope="module")
def shared_ctx(two_servers) -> Iterator[Context]:
    ctx = Context.open(load_settings(two_servers.env))
    yield ctx
    ctx.store.dispose()


def open_login(page, url: str) -> None:
    page.goto(url, wait_until="commit")
    page.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)


def submit_login(page, username: str, password: str) -> None:
    page.get_by_placeholder("Username").fill(username)
    page.get_by_placeholder("Password").fill(password)
    page.get_by_role("button", name="Log in").click()


def wait_for_shell(page) -> None:
    page.get_by_role("button", name="Log out").wait_for(timeout=PAGE_TIMEOUT_MS)


def log_in(page, url: str, username: str, password: str) -> None:
    open_login(page, url)
    submit_login(page, username, password)
    wait_for_shell(page)


def test_both_servers_share_the_database_and_neither_runs_a_worker(two_servers, shared_ctx):
    for server in (two_servers.a, two_servers.b):
        health = server.health()
        assert health["status"] == "ok", health
        assert health["worker"]["state"] == "ok"  # the one worker both see
    with shared_ctx.store.read() as conn:
        rows = conn.execute(select(schema.workers.c.pid).where(schema.workers.c.stopped_at.is_(None))).all()
    assert [r.pid for r in rows] == [two_servers.worker.pid]


def test_an_account_added_on_one_server_logs_in_on_the_other(context, two_servers):
    page = context.new_page()
    log_in(page, two_servers.a.base_url, ADMIN, ADMIN_PASSWORD)
    page.get_by_role("button", name="Access management").click()
    add_account(page, "across.servers", "a-long-enough-secret", title="Analyst")
    page.get_by_text("Account across.servers added as user.").wait_for()

    other = context.browser.new_context()  # another person, on the other server
    try:
        page_b = other.new_page()
        log_in(page_b, two_servers.b.base_url, "across.servers", "a-long-enough-secret")
        page_b.get_by_text("across.servers · Analyst · user").wait_for()
    finally:
        close_tabs(other)


def session_cookie(context) -> dict | None:
    return next((c for c in context.cookies() if c["name"] == "vision_session"), None)


def test_a_session_and_its_cookie_from_one_server_work_on_the_other(context, two_servers):
    page_a = context.new_page()
    log_in(page_a, two_servers.a.base_url, OWNER, OWNER_PASSWORD)
    page_a.wait_for_selector("html[data-vision-session='set']", state="attached")
    cookie = session_cookie(context)
    # set by A, kept for the host: the browser sends it to B (another port of the same host) too
    assert cookie is not None and cookie["domain"] == "127.0.0.1" and cookie["path"] == "/"

    page_b = context.new_page()
    page_b.goto(two_servers.b.base_url, wait_until="commit")
    wait_for_shell(page_b)  # resumed on B from A's cookie: no login form
    page_b.get_by_text(f"{OWNER} · ").first.wait_for()
    assert page_b.locator(LOGIN_USERNAME).count() == 0
    shot(page_b, "several-servers-b-resumed-from-a-cookie")

    # logging out on B ends the session for A too (it is one row in the shared database)
    page_b.get_by_role("button", name="Log out").click()
    page_b.wait_for_selector("html[data-vision-session='cleared']", state="attached")
    assert session_cookie(context) is None
    context.add_cookies([{"name": "vision_session", "value": cookie["value"], "url": two_servers.a.base_url,
                          "httpOnly": True, "sameSite": "Strict"}])
    page_a.reload(wait_until="commit")
    page_a.wait_for_selector(LOGIN_USERNAME, state="visible", timeout=PAGE_TIMEOUT_MS)
    page_a.get_by_text("Your session has ended").wait_for()


def test_a_registration_started_on_one_server_is_followed_on_the_other_and_run_by_the_worker(
        context, two_servers, shared_ctx):
    page_a = context.new_page()
    log_in(page_a, two_servers.a.base_url, OWNER, OWNER_PASSWORD)
    page_a.locator(".vision-nav button", has_text="Register model").click()
    fill_registration(page_a, "Churn across servers", f"{DATA_ROOT}/customer_churn_training.csv",
                      f"{DATA_ROOT}/customer_churn_production.csv", target="churned",
                      prediction="churn_probability", timestamp="event_time", excluded="record_id")
    page_a.locator(".vision-page button", has_text="Register model").click()
    page_a.get_by_text("Churn across servers: queued.").wait_for()

    # the same person on the other server (a tab the proxy sent to B) sees the registration and its end
    page_b = context.new_page()
    page_b.goto(two_servers.b.base_url, wait_until="commit")
    wait_for_shell(page_b)
    page_b.locator(".vision-nav button", has_text="Register model").click()
    row = page_b.locator(".vision-job", has_text="Churn across servers")
    row.get_by_text("done", exact=True).wait_for(timeout=120_000)  # its state, as the worker left it
    shot(page_b, "several-servers-b-sees-the-registration-from-a")
    page_a.get_by_text(re.compile(r"Churn across servers is registered")).wait_for(timeout=120_000)

    with shared_ctx.store.read() as conn:
        job = conn.execute(select(schema.jobs).where(schema.jobs.c.title == "Churn across servers")).one()
        workers = conn.execute(select(schema.workers.c.pid)).all()
        model = conn.execute(select(schema.models.c.name).where(schema.models.c.name == "Churn across servers")).all()
    assert job.state == "done" and job.attempts == 1
    assert [w.pid for w in workers] == [two_servers.worker.pid]  # no server ran a worker of its own
    assert len(model) == 1


def test_wrong_passwords_on_both_servers_count_towards_one_lockout(context, two_servers):
    pages = []
    for server in (two_servers.a, two_servers.b):
        page = context.new_page()
        open_login(page, server.base_url)
        pages.append(page)
    password_fields = [p.get_by_placeholder("Password") for p in pages]
    from playwright.sync_api import expect

    for attempt in range(LOCKOUT_THRESHOLD):
        i = attempt % 2  # A, B, A, B: neither server alone saw the threshold
        submit_login(pages[i], "sre_user", f"wrong-password-{attempt}")
        expect(password_fields[i]).to_have_value("", timeout=PAGE_TIMEOUT_MS)  # the attempt was answered
        if attempt < LOCKOUT_THRESHOLD - 1:
            pages[i].get_by_text("Wrong username or password.").wait_for()
    # locked on both, even with the right password
    for page, password in zip(pages, password_fields):
        submit_login(page, "sre_user", "sre_user123")
        expect(password).to_have_value("", timeout=PAGE_TIMEOUT_MS)  # answered: refused
        page.get_by_text("This account is locked after repeated failed logins").wait_for()
        assert page.get_by_role("button", name="Log out").count() == 0
    shot(pages[1], "several-servers-b-locked-after-wrong-passwords-on-both")

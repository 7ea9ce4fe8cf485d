"""Fixtures for the unit and headless widget tests (tests/e2e/ has its own).

``settings``    Settings built from a dict: VISION_HOME in tmp_path, users_file = the repo's users.json;
                in the modules of ``BOTH_DATABASES`` every test runs twice, on SQLite and on a new
                PostgreSQL database of the session's throw-away cluster (``database`` says which).
``clock``       a :class:`helpers.FakeClock` (``clock.advance(seconds)`` moves time).
``ctx``         a Context over a fresh SQLite database in tmp_path, seeded with ``sample_accounts.load_users``
                from ``fast_users_file``; its clock is ``clock``.
``login``       ``login(username, password=None) -> Principal`` through the real ``auth.login``.
``app``         a ``VisionApp(ctx)`` showing its login form; its widgets are closed afterwards.

Speed: the sample hashes use argon2-cffi's default cost (64 MiB, t=3, p=4): ~50 ms per verify on
an idle machine, ten times that on a busy 2-core CI box. ``ctx`` therefore seeds the *same ten
accounts with the same passwords* from ``fast_users_file`` (users.json with each hash redone at
the minimum Argon2id cost) and ``fast_hashing`` makes ``core.passwords`` hash at that cost too
(so logins don't "upgrade" the cheap hashes). The real users.json and the real cost are tested
in test_seed.py, test_passwords.py and test_cli_users.py.
"""
from __future__ import annotations

import json

import pytest
from argon2 import PasswordHasher, Type
from helpers import PASSWORDS, USERS_JSON, FakeClock

from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.identity import auth, passwords
from vision_widgets.core.identity.principal import Principal
from vision_widgets.demo import sample_accounts

#: Argon2id at its minimum cost: same algorithm and code paths, microseconds per verify.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)


@pytest.fixture(scope="session")
def fast_users_file(tmp_path_factory):
    """users.json with every hash redone at FAST_HASHER's cost (same accounts, same passwords)."""
    data = json.loads(USERS_JSON.read_text(encoding="utf-8"))
    for entry in data["users"]:
        entry["password_hash"] = FAST_HASHER.hash(PASSWORDS[entry["username"]])
    path = tmp_path_factory.mktemp("fast-users") / "users.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


@pytest.fixture
def fast_hashing(monkeypatch):
    """New hashes (create, reset, change password, unknown-user timing) at FAST_HASHER's cost."""
    monkeypatch.setattr(passwords, "_HASHER", FAST_HASHER)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", FAST_HASHER.hash("vision-ai-timing-equaliser"))


#: The suites that run on both backends (issue 14): the services, each with its permission matrix, and
#: the HTTP API. PostgreSQL is first-class only if what these check holds there too; the invariants
#: under concurrent writers are test_concurrent_writers.py's.
BOTH_DATABASES = frozenset({
    "test_access_matrix", "test_alerts_service", "test_concurrent_writers", "test_api", "test_api_usage", "test_auth", "test_business_metrics",
    "test_connectors_service", "test_drift_page_service", "test_drift_settings", "test_estimation_service",
    "test_jobs", "test_llm_chat", "test_monitoring", "test_registration_connectors", "test_registry_service",
    "test_scheduled_pulls", "test_sessions", "test_submission", "test_upload_tokens", "test_usage_service",
})


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames and metafunc.module.__name__.rsplit(".", 1)[-1] in BOTH_DATABASES:
        metafunc.parametrize("database", DATABASES, indirect=True)


@pytest.fixture
def database(request) -> str:
    """The backend this test's ``settings`` point at: "sqlite", or "postgresql" in ``BOTH_DATABASES``."""
    return getattr(request, "param", "sqlite")


@pytest.fixture
def settings(tmp_path, database, request):
    env = {"VISION_HOME": str(tmp_path / "home"), "VISION_USERS_FILE": str(USERS_JSON)}
    if database == "postgresql":
        env.update(postgres_settings_env(request))
    return load_settings(env)


@pytest.fixture
def clock():
    return FakeClock()


@pytest.fixture
def ctx(settings, clock, fast_users_file, fast_hashing):
    context = Context.open(settings, clock=clock, upgrade=True)  # what `vision init` does
    sample_accounts.load_users(context, fast_users_file)
    yield context
    context.store.dispose()


@pytest.fixture
def login(ctx):
    """Log a sample account in through ``auth.login`` and return its Principal."""

    def _login(username: str, password: str | None = None) -> Principal:
        return auth.login(ctx, username, PASSWORDS[username] if password is None else password).principal

    return _login


@pytest.fixture
def app(ctx):
    from vision_widgets.app import VisionApp
    from vision_widgets.views.base import close_tree

    shell = VisionApp(ctx)
    yield shell
    close_tree(shell)
    for widget in (shell.header, shell.nav, shell.body):
        close_tree(widget)


@pytest.fixture
def register_restricted(ctx, login):
    """``register_restricted(name, username=USER) -> Registration``: a restricted model awaiting metrics,
    with the fraud demo data's column roles, and its one-time upload token."""
    from helpers import USER, demo_spec

    from vision_widgets.services import registration

    def _register(name: str = "Secret model", username: str = USER):
        return registration.register_model(ctx, login(username), demo_spec(name, restricted=True))

    return _register


@pytest.fixture(scope="session")
def real_server(tmp_path_factory):
    """The real ``vision serve`` subprocess (after ``vision init``) in a temporary VISION_HOME, without a
    kernel pool (these tests use its HTTP API, not the dashboard). Stopped after the session."""
    from tests.support.server_process import start_server, stop_server

    root = tmp_path_factory.mktemp("vision-real-server")
    server = start_server(root / "home", root / "server.log", env_extra={"VISION_KERNEL_POOL": "0"})
    try:
        yield server
    finally:
        stop_server(server)


@pytest.fixture(scope="session")
def real_ctx(real_server):
    """A services context on the real server's database (to register models, read what it stored)."""
    context = Context.open(load_settings(real_server.env))
    yield context
    context.store.dispose()


# The object-store servers (moto's S3, Azurite) the connector-type tests share: one of each per session.
from tests.support.object_stores import azurite, moto_s3  # noqa: E402,F401
from tests.support.connector_data import file_profile, sample_frame  # noqa: E402,F401
from tests.support.postgres import DATABASES, postgres_cluster, postgres_head, postgres_settings_env  # noqa: E402,F401

"""Schema migrations (core/storage/upgrade.py, core/storage/migrations/): Alembic, from release 0.1.0 on.

Every test that claims both databases runs on SQLite and on a throw-away PostgreSQL cluster
(tests/support/postgres.py; skipped when PostgreSQL is not installed).

``fixtures/release-0.1.0.sql`` is a real database of the previous release (commit 018be3c): its own
``vision init --demo`` run from a git worktree of that commit, then two logins (datascientist_user,
datascientist_admin) and one admin action (productowner_user made an admin), dumped with
``sqlite3 vision.db .dump``. On PostgreSQL the same rows are copied into the baseline schema, which is
what 0.1.0's ``create_all`` built there, and the Alembic stamp is removed, as 0.1.0 had none.
"""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from helpers import PASSWORDS
from sqlalchemy import MetaData, create_engine, func, inspect, select, text

from tests.support.postgres import postgres_cluster  # noqa: F401 - the session fixture
from tests.support.server_process import REPO_ROOT
from vision_widgets import client
from vision_widgets.core.config import load_settings
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConfigurationError
from vision_widgets.core.identity import auth
from vision_widgets.core.storage import schema, upgrade
from vision_widgets.core.storage.engine import Store
from vision_widgets.core.storage.upgrade import BASELINE, HEAD, SchemaChange

RELEASE_DUMP = Path(__file__).parent / "fixtures" / "release-0.1.0.sql"
#: The fixture's rows per table (schema_version aside): what must still be there after the upgrade.
RELEASE_ROWS = {"users": 10, "sessions": 2, "audit_log": 8, "models": 5, "profiles": 10, "drift_reports": 5,
                "upload_tokens": 1}
#: Each account's profile in the fixture (productowner_user was made an admin under 0.1.0).
RELEASE_PROFILES = {
    "datascientist_user": "user", "datascientist_admin": "admin", "productowner_user": "admin",
    "productowner_admin": "admin", "sre_user": "user", "sre_admin": "admin", "mlengineer_user": "user",
    "mlengineer_admin": "admin", "appowner_user": "user", "appowner_admin": "admin",
}
FUTURE = "9999_from_a_newer_vision"


# -- databases -----------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def new_settings(request, tmp_path):
    """``new_settings() -> Settings`` naming a new, empty database on the parameter's backend."""
    made = []

    def _new():
        home = tmp_path / f"home{len(made)}"
        env = {"VISION_HOME": str(home)}
        if request.param == "postgresql":
            env["VISION_DATABASE_URL"] = request.getfixturevalue("postgres_cluster").new_database()
        made.append(load_settings(env))
        return made[-1]

    return _new


@pytest.fixture
def sqlite_settings(tmp_path):
    return load_settings({"VISION_HOME": str(tmp_path / "home")})


@contextmanager
def connected(settings):
    """A plain connection to the settings' database, whatever its schema (no revision check)."""
    if settings.uses_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        with store.engine.connect() as conn:
            yield conn
    finally:
        store.dispose()


def load_release(settings) -> None:
    """Make the settings' database the fixture's 0.1.0 database."""
    if settings.uses_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
        raw = sqlite3.connect(settings.home / "vision.db")
        try:
            raw.executescript(RELEASE_DUMP.read_text(encoding="utf-8"))
        finally:
            raw.close()
        return
    source = settings.home / "release.db"
    settings.home.mkdir(parents=True, exist_ok=True)
    raw = sqlite3.connect(source)
    raw.executescript(RELEASE_DUMP.read_text(encoding="utf-8"))
    raw.close()
    upgrade.upgrade(settings, BASELINE)
    engine = create_engine(f"sqlite:///{source}")
    try:
        old = MetaData()
        old.reflect(engine)
        with engine.connect() as src, connected(settings) as dst, dst.begin():
            new = MetaData()
            new.reflect(dst)
            dst.execute(text("DROP TABLE alembic_version"))
            dst.execute(new.tables["schema_version"].delete())
            for table in old.sorted_tables:
                rows = [dict(r) for r in src.execute(select(table)).mappings()]
                if rows:
                    dst.execute(new.tables[table.name].insert(), rows)
                if "id" in table.c:
                    dst.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                     f"(SELECT max(id) FROM {table.name}))"))
    finally:
        engine.dispose()


#: Columns revisions after 0.1.0 added to its tables, NULL for the rows it wrote.
ADDED_LATER = {"models": ("cadence", "pull", "pulled_at")}


def snapshot(settings) -> dict[str, list[dict]]:
    """Every row of every 0.1.0 table, in primary-key order (``users.role`` read back as ``profile``)."""
    with connected(settings) as conn:
        names = set(inspect(conn).get_table_names())
        found = {}
        for table in RELEASE_ROWS:
            if table not in names:
                continue
            rows = [dict(r) for r in conn.execute(text(f"SELECT * FROM {table} ORDER BY 1")).mappings()]
            if table == "users":
                rows = [{("profile" if k == "role" else k): v for k, v in r.items()} for r in rows]
            # Columns later revisions add (empty for 0.1.0's rows) are not 0.1.0's data.
            rows = [{k: v for k, v in r.items() if k not in ADDED_LATER.get(table, ())} for r in rows]
            found[table] = rows
        return found


def columns(settings, table: str) -> list[str]:
    with connected(settings) as conn:
        return [c["name"] for c in inspect(conn).get_columns(table)]


def differences(settings) -> list:
    """What Alembic's autogenerate sees between the database and ``schema.metadata`` (nothing, at the head)."""
    with connected(settings) as conn:
        return compare_metadata(MigrationContext.configure(conn), schema.metadata)


def structure(settings) -> dict:
    """Tables, columns, keys and indexes as the database reports them (to compare two schemas)."""
    with connected(settings) as conn:
        insp = inspect(conn)
        return {
            table: (
                [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
                insp.get_pk_constraint(table)["constrained_columns"],
                sorted((fk["constrained_columns"], fk["referred_table"], fk["options"].get("ondelete"))
                       for fk in insp.get_foreign_keys(table)),
                sorted((i["name"], i["column_names"], i["unique"]) for i in insp.get_indexes(table)),
                sorted(tuple(u["column_names"]) for u in insp.get_unique_constraints(table)),
            )
            for table in sorted(set(insp.get_table_names()) - {"alembic_version"})
        }


def schema_version_rows(settings) -> list[int]:
    with connected(settings) as conn:
        return list(conn.execute(text("SELECT version FROM schema_version")).scalars())


def run_upgrade_process(settings, *args: str) -> subprocess.Popen:
    env = {**os.environ, "VISION_HOME": str(settings.home), "VISION_DATABASE_URL": settings.database_url,
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.Popen([sys.executable, "-m", "tests.support.upgrade_process", *args], cwd=REPO_ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path: Path, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"the upgrade process ended early: {proc.communicate()}")
        if time.monotonic() > deadline:
            proc.kill()
            raise AssertionError(f"{path.name} did not appear within {timeout} s")
        time.sleep(0.01)


# -- the revisions ---------------------------------------------------------------------------
def test_head_names_the_newest_revision_and_every_revision_has_a_downgrade():
    scripts = ScriptDirectory.from_config(upgrade.alembic_config())
    assert upgrade.head() == HEAD, "set upgrade.HEAD to the id of the newest revision"
    chain = [s.revision for s in scripts.walk_revisions()]
    assert chain[-1] == BASELINE and len(chain) == len(set(chain)) == 9
    for script in scripts.walk_revisions():
        assert callable(getattr(script.module, "downgrade", None)), script.revision


def test_the_migrations_ship_inside_the_package():
    assert upgrade.MIGRATIONS_DIR.is_relative_to(Path(upgrade.__file__).parent)
    for name in ("env.py", "script.py.mako"):
        assert (upgrade.MIGRATIONS_DIR / name).is_file()
    assert len(list((upgrade.MIGRATIONS_DIR / "versions").glob("0*.py"))) == 9


def test_the_head_builds_exactly_schema_metadata(new_settings):
    settings = new_settings()
    assert upgrade.upgrade(settings) == SchemaChange(None, HEAD)
    assert differences(settings) == []
    # The comparison is not blind: one revision down, it sees the difference.
    upgrade.downgrade(settings, "-1")
    assert differences(settings) != []


def test_upgrading_a_database_at_the_head_changes_nothing(new_settings):
    settings = new_settings()
    upgrade.upgrade(settings)
    before = structure(settings)
    assert upgrade.upgrade(settings) == SchemaChange(HEAD, HEAD)
    assert structure(settings) == before


# -- the previous release's database ------------------------------------------------------------
def test_a_release_0_1_0_database_is_upgraded_and_nothing_is_lost(new_settings):
    settings = new_settings()
    load_release(settings)
    assert "profile" in columns(settings, "users") and schema_version_rows(settings) == [1]
    before = snapshot(settings)
    assert {t: len(rows) for t, rows in before.items()} == RELEASE_ROWS

    assert upgrade.upgrade(settings) == SchemaChange(BASELINE, HEAD)

    assert snapshot(settings) == before  # every row of every table, each role its old profile
    assert differences(settings) == []
    ctx = Context.open(settings)
    try:
        with ctx.store.read() as conn:
            roles = dict(conn.execute(select(schema.users.c.username, schema.users.c.role)).all())
            bodies = conn.execute(select(schema.profiles.c.body)).scalars().all()
        assert roles == RELEASE_PROFILES
        assert len(bodies) == RELEASE_ROWS["profiles"]
        assert all(isinstance(client.Profile.from_json(body), client.Profile) for body in bodies)
        # The real 0.1.0 hash, at its real cost; the account 0.1.0 made an admin is one now.
        session = auth.login(ctx, "productowner_user", PASSWORDS["productowner_user"])
        assert session.principal.role == "admin"
    finally:
        ctx.store.dispose()


def test_kernels_refuse_a_release_0_1_0_or_older_database_until_it_is_upgraded(sqlite_settings):
    load_release(sqlite_settings)
    with pytest.raises(ConfigurationError, match=r"0\.1\.0.*run `vision init`"):
        Context.open(sqlite_settings)
    assert "profile" in columns(sqlite_settings, "users")  # opening changed nothing
    upgrade.upgrade(sqlite_settings, "0002_users_role")
    with pytest.raises(ConfigurationError, match=rf"'0002_users_role', older than .*'{HEAD}'.*run `vision init`"):
        Context.open(sqlite_settings)
    upgrade.upgrade(sqlite_settings)
    Context.open(sqlite_settings).store.dispose()


def test_vision_init_upgrades_a_release_0_1_0_database(sqlite_settings):
    load_release(sqlite_settings)
    done = subprocess.run(
        [sys.executable, "-m", "vision_widgets", "init"], cwd=REPO_ROOT, capture_output=True, text=True,
        timeout=120, env={**os.environ, "VISION_HOME": str(sqlite_settings.home)},
    )
    assert done.returncode == 0, done.stderr
    assert f"schema migrated from {BASELINE} to {HEAD}" in done.stdout
    assert "all present already" in done.stdout
    with connected(sqlite_settings) as conn:
        assert conn.execute(select(func.count()).select_from(schema.users)).scalar_one() == 10


def test_a_database_with_vision_tables_but_no_version_is_refused(sqlite_settings):
    with connected(sqlite_settings) as conn, conn.begin():
        schema.metadata.create_all(conn)
    with pytest.raises(ConfigurationError, match="no schema revision"):
        upgrade.upgrade(sqlite_settings)
    assert "alembic_version" not in structure(sqlite_settings)


# -- downgrades ---------------------------------------------------------------------------------
def test_every_revision_goes_down_and_up_again(new_settings):
    settings, pristine = new_settings(), new_settings()
    load_release(settings)
    load_release(pristine)
    original = snapshot(settings)
    upgrade.upgrade(settings)

    assert upgrade.downgrade(settings, "-1") == SchemaChange(HEAD, "0008_llm_log")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0008_llm_log", "0007_usage_notifications")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0007_usage_notifications", "0006_connectors_monitoring")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0006_connectors_monitoring", "0005_session_codes")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0005_session_codes", "0004_jobs")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0004_jobs", "0003_retire_schema_version")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0003_retire_schema_version", "0002_users_role")
    assert upgrade.downgrade(settings, "-1") == SchemaChange("0002_users_role", BASELINE)
    # The baseline is 0.1.0's schema again, with its data and its schema_version row.
    assert structure(settings) == structure(pristine)
    assert snapshot(settings) == original
    assert schema_version_rows(settings) == [1]

    assert upgrade.upgrade(settings) == SchemaChange(BASELINE, HEAD)
    assert snapshot(settings) == original
    assert differences(settings) == []

    for expected in ("0008_llm_log", "0007_usage_notifications", "0006_connectors_monitoring", "0005_session_codes", "0004_jobs", "0003_retire_schema_version", "0002_users_role", BASELINE, None):
        assert upgrade.downgrade(settings, "-1").after == expected
    assert structure(settings) == {}
    assert upgrade.upgrade(settings) == SchemaChange(None, HEAD)
    assert differences(settings) == []


# -- a database from the future -----------------------------------------------------------------
def test_a_database_at_a_revision_this_code_does_not_know_is_refused(new_settings):
    settings = new_settings()
    upgrade.upgrade(settings)
    with connected(settings) as conn, conn.begin():
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": FUTURE})
    before = structure(settings)
    message = rf"revision '{FUTURE}'.*does not know.*newest is '{HEAD}'.*newer Vision AI"
    with pytest.raises(ConfigurationError, match=message):
        upgrade.upgrade(settings)
    with pytest.raises(ConfigurationError, match=message):
        Context.open(settings)
    assert structure(settings) == before
    with connected(settings) as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == FUTURE


# -- crashes and concurrency --------------------------------------------------------------------
def test_a_migration_killed_midway_leaves_the_old_schema_and_the_next_start_finishes_it(new_settings, tmp_path):
    settings = new_settings()
    load_release(settings)
    before = snapshot(settings)
    marker = tmp_path / "renamed"
    proc = run_upgrade_process(settings, "--pause-after-rename", str(marker))
    try:
        wait_for(marker, proc)
        assert "RENAME" in marker.read_text().upper()  # the rename ran, uncommitted
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # Right after the kill: still 0.1.0's schema, unstamped, with every row.
    assert "profile" in columns(settings, "users") and "role" not in columns(settings, "users")
    assert "alembic_version" not in structure(settings)
    assert schema_version_rows(settings) == [1]
    assert snapshot(settings) == before

    assert upgrade.upgrade(settings) == SchemaChange(BASELINE, HEAD)
    assert snapshot(settings) == before
    assert differences(settings) == []


@pytest.mark.parametrize("round_", range(5))
def test_two_processes_upgrading_a_new_database_at_once_both_succeed(new_settings, tmp_path, round_):
    settings = new_settings()
    go = tmp_path / "go"
    procs = [run_upgrade_process(settings, "--ready", str(tmp_path / f"ready{i}"), "--go", str(go))
             for i in range(2)]
    try:
        for i, proc in enumerate(procs):
            wait_for(tmp_path / f"ready{i}", proc)
        go.write_text("go")
        results = [proc.communicate(timeout=180) for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
    for proc, (out, err) in zip(procs, results):
        assert proc.returncode == 0, err
    outputs = sorted(out.strip() for out, _ in results)
    assert outputs == sorted([str(SchemaChange(None, HEAD)), str(SchemaChange(HEAD, HEAD))])
    assert differences(settings) == []
    store = Store(settings.database_url)
    try:
        assert upgrade.current_revision(store) == HEAD
    finally:
        store.dispose()

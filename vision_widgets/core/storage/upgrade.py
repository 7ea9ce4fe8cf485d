"""Bring the database to this code's schema with Alembic: once, one process at a time, all or nothing.

Who upgrades: ``vision init`` and ``vision serve``, before anything else touches
the database. The web app's kernels (one per browser tab) only *check*, with
``require_head`` — one SELECT and no Alembic import — and refuse with a message
when the database is behind or ahead. A hundred tabs opening together never race
to migrate, and a kernel never changes a schema under a running server.

Recognising the databases of release 0.1.0: they predate Alembic and carry a
``schema_version`` table holding the row ``1`` and no ``alembic_version`` table.
Such a database is stamped with revision ``0001_baseline`` (0.1.0's schema, frozen
in that revision) and then upgraded like any other. A database without either
table and without Vision AI's tables is new and is built from nothing; one with
Vision AI's tables but no version is refused rather than guessed at.

One transaction: the stamp, every revision and the ``alembic_version`` update
run on one connection inside one transaction, which Alembic finds already begun
and leaves alone. SQLite and PostgreSQL both have transactional DDL (the engine
sets pysqlite's ``isolation_level=None`` and emits ``BEGIN`` itself, so the
driver does not commit before DDL as its legacy mode would). A process killed
mid-migration therefore leaves the old schema intact, and the next start redoes
the migration from there.

The lock, so two processes starting at once do not both migrate: on SQLite the
transaction begins with ``BEGIN IMMEDIATE``, which takes the database's single
write lock before the version is even read; in WAL mode (always on here) that is
exactly what ``BEGIN EXCLUSIVE`` would take, while readers keep reading the old
snapshot. The second process waits for the lock (up to ten minutes), then reads
the version the first one committed and has nothing left to do. No lock file
beside the database: it would not follow the database onto another disk, and
the database is the only state servers share. On PostgreSQL the transaction
starts with ``pg_advisory_xact_lock``, released by the commit or rollback, or
when a killed process's connection drops.

SQLite rebuilds a table to alter it (Alembic's batch mode: copy, drop, rename).
Dropping the old ``users`` table with foreign keys on would delete every session
through ``ON DELETE CASCADE``, and the pragma cannot change inside a
transaction, so migrations run with foreign keys off on their own connection
and ``PRAGMA foreign_key_check`` must come back clean before the commit.

Writing a revision: ``alembic.command.revision(alembic_config(url), "what changed",
autogenerate=True)`` against a database at the head, then review it, give it a
downgrade and set ``HEAD`` below to its id (a test checks ``HEAD``, and that the
head builds exactly ``schema.metadata``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, inspect, text

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import ConfigurationError
from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import Store

if TYPE_CHECKING:  # Alembic is imported only when a migration runs (~0.1 s kernels need not pay)
    from alembic.config import Config
    from alembic.script import ScriptDirectory

__all__ = ["BASELINE", "HEAD", "MIGRATIONS_DIR", "SchemaChange", "alembic_config", "current_revision",
           "downgrade", "head", "require_head", "upgrade"]

#: env.py, script.py.mako and versions/: package data, found beside this module wherever it is installed.
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
#: The newest revision in versions/, so that a kernel's check imports no Alembic; a test keeps it true.
HEAD = "0009_periodic_runs"
#: Release 0.1.0's schema; a database that release wrote is stamped with it.
BASELINE = "0001_baseline"

#: Key of the PostgreSQL advisory lock: a fixed number ("VISION" in ASCII) no other app on the server uses.
_PG_LOCK_KEY = 0x564953494F4E
#: How long a second SQLite process waits for the first one's migration before giving up.
_SQLITE_WAIT_MS = 10 * 60 * 1000
_VERSION_TABLE = "alembic_version"
_RELEASE_0_1_TABLE = "schema_version"


@dataclass(frozen=True)
class SchemaChange:
    """What one ``upgrade``/``downgrade`` did: the revision found and the one reached (``None``: no schema)."""

    before: str | None
    after: str | None

    def __str__(self) -> str:
        if self.before == self.after:
            return f"schema up to date (revision {self.after})"
        return f"schema migrated from {self.before or 'nothing'} to {self.after or 'nothing'}"


def alembic_config(url: str | None = None) -> Config:
    """An Alembic ``Config`` for Vision AI's migrations, built in code (no alembic.ini).

    ``url`` is needed only for Alembic's own commands run by a developer (``revision``,
    offline ``--sql``); ``upgrade``/``downgrade`` hand Alembic their locked connection instead.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))  # ConfigParser interpolation
    return config


def _scripts() -> ScriptDirectory:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config())


def head() -> str:
    """The newest revision this code can migrate to, read from the revision scripts."""
    return _scripts().get_current_head()


def current_revision(store: Store) -> str | None:
    """The revision the database is at; ``None`` when Alembic has not versioned it (new, or from 0.1.0)."""
    with store.read() as conn:
        return _revision(conn)


def _revision(conn: Connection) -> str | None:
    if not inspect(conn).has_table(_VERSION_TABLE):
        return None
    found = conn.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}")).scalars().all()
    return ",".join(sorted(found)) or None


def _known(scripts: ScriptDirectory, revision: str) -> bool:
    return revision in {script.revision for script in scripts.walk_revisions()}


def _newer_message(revision: str) -> str:
    return (
        f"The database is at schema revision {revision!r}, which this Vision AI does not know "
        f"(its newest is {HEAD!r}): a newer Vision AI has upgraded it. Run that newer version, "
        "or point VISION_HOME / VISION_DATABASE_URL at another database; Vision AI never "
        "downgrades a database by itself."
    )


def require_head(store: Store) -> None:
    """Refuse a database whose schema is not exactly this code's head (what every kernel does).

    Raises ``ConfigurationError`` saying what to run: ``vision init`` for a new,
    0.1.0 or older database, a newer Vision AI for a database from the future.
    """
    found = current_revision(store)
    if found == HEAD:
        return
    if found is None:
        raise ConfigurationError(
            "The database has no Vision AI schema yet, or one from Vision AI 0.1.0: run `vision init` "
            "(or restart `vision serve`) to create or upgrade it."
        )
    if _known(_scripts(), found):
        raise ConfigurationError(
            f"The database is at schema revision {found!r}, older than this Vision AI's {HEAD!r}: "
            "run `vision init` (or restart `vision serve`) to upgrade it."
        )
    raise ConfigurationError(_newer_message(found))


def upgrade(settings: Settings, revision: str = "head") -> SchemaChange:
    """Bring the configured database up to ``revision`` (this code's head by default).

    Creates the schema in a new database and upgrades one written by 0.1.0 or by
    an older Vision AI, in one transaction under a lock (see the module notes).
    Raises ``ConfigurationError`` for a database at a revision this code does not
    know, and changes nothing then.
    """
    return _migrate(settings, "upgrade", revision)


def downgrade(settings: Settings, revision: str) -> SchemaChange:
    """Take the configured database down to ``revision`` (an id, ``"-1"`` for one step, ``"base"``).

    For an operator going back to an older Vision AI, and for tests: the same
    lock and single transaction as ``upgrade``. ``"base"`` drops every table.
    """
    return _migrate(settings, "downgrade", revision)


def _migrate(settings: Settings, direction: str, target: str) -> SchemaChange:
    from alembic import command

    if settings.uses_sqlite:
        settings.home.mkdir(parents=True, exist_ok=True)
    config = alembic_config()
    scripts = _scripts()
    store = Store(settings.database_url)
    try:
        with store.engine.connect() as conn:
            if store.is_sqlite:
                # Before BEGIN: SQLite ignores the foreign_keys pragma inside a transaction.
                raw = conn.connection.driver_connection
                raw.execute("PRAGMA foreign_keys=OFF")
                raw.execute(f"PRAGMA busy_timeout={_SQLITE_WAIT_MS}")
            conn.execution_options(vision_write=True)  # SQLite: BEGIN IMMEDIATE, the write lock
            with conn.begin():
                _lock(conn)
                config.attributes["connection"] = conn
                before = _recognise(conn, config, scripts)
                if direction == "upgrade":
                    command.upgrade(config, target)
                else:
                    command.downgrade(config, target)
                if store.is_sqlite:
                    _check_foreign_keys(conn)
                after = _revision(conn)
    finally:
        store.dispose()  # also drops the connection whose foreign keys were off
    return SchemaChange(before, after)


def _lock(conn: Connection) -> None:
    dialect = conn.dialect.name
    if dialect == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
    elif dialect != "sqlite":  # SQLite's lock was taken by BEGIN IMMEDIATE
        raise ConfigurationError(
            f"Vision AI keeps its data in SQLite or PostgreSQL, not {dialect}: set VISION_DATABASE_URL "
            "to a postgresql:// URL, or unset it for SQLite in VISION_HOME."
        )


def _recognise(conn: Connection, config: Config, scripts: ScriptDirectory) -> str | None:
    """The revision the locked database is at, stamping a 0.1.0 database with the baseline first."""
    from alembic import command

    found = _revision(conn)
    if found is not None:
        if not _known(scripts, found):
            raise ConfigurationError(_newer_message(found))
        return found
    tables = set(inspect(conn).get_table_names())
    if _RELEASE_0_1_TABLE in tables:
        versions = conn.execute(text(f"SELECT version FROM {_RELEASE_0_1_TABLE}")).scalars().all()
        if versions != [1]:
            raise ConfigurationError(
                f"The database carries the pre-Alembic schema version(s) {versions}, but only Vision AI "
                "0.1.0's version 1 can be upgraded: run the Vision AI that wrote it, or point "
                "VISION_HOME / VISION_DATABASE_URL at another database."
            )
        command.stamp(config, BASELINE)
        return BASELINE
    ours = sorted(tables & set(schema.metadata.tables))
    if ours:
        raise ConfigurationError(
            f"The database holds Vision AI tables ({', '.join(ours)}) but no schema revision, so it cannot "
            "be upgraded safely: restore it from a backup, or point VISION_HOME / VISION_DATABASE_URL at "
            "a new database."
        )
    return None


def _check_foreign_keys(conn: Connection) -> None:
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        tables = sorted({row[0] for row in broken})
        raise ConfigurationError(
            f"The migration would leave {len(broken)} row(s) of {', '.join(tables)} pointing at rows that "
            "do not exist, so nothing was changed: restore the database from a backup and report this."
        )

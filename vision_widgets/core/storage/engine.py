"""Persistence through SQLAlchemy Core: one engine per process, versioned schema.

SQLite (the default, at ``$VISION_HOME/vision.db``) runs in WAL mode with a busy
timeout, and write transactions start with ``BEGIN IMMEDIATE``: every kernel
of the web app is its own process writing the same file, and a deferred
transaction that upgrades from reading to writing can fail at once with
"database is locked" instead of waiting. ``VISION_DATABASE_URL`` points the
same code at PostgreSQL when several server processes share one database.
"""
from __future__ import annotations

from contextlib import contextmanager
from typing import Callable, Iterator

from sqlalchemy import Connection, Engine, create_engine, event, inspect, select

from vision_widgets.core.clock import utcnow
from vision_widgets.core.config import Settings
from vision_widgets.core.errors import ConfigurationError
from vision_widgets.core.storage import schema

#: version -> step that upgrades a database from version-1 to version.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {}

_BUSY_TIMEOUT_MS = 10_000


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver hook
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):  # pragma: no cover - driver hook
        immediate = conn.get_execution_options().get("vision_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class Store:
    """The database: ``read()`` and ``write()`` give a connection in a transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict = {}
        if self.is_sqlite:
            kwargs["connect_args"] = {"timeout": _BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @classmethod
    def open(cls, settings: Settings, migrate: bool = True) -> "Store":
        """Open the configured database, creating and upgrading the schema if asked."""
        if settings.uses_sqlite:
            settings.home.mkdir(parents=True, exist_ok=True)
        store = cls(settings.database_url)
        if migrate:
            store.migrate()
        return store

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection inside a read transaction."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection inside one write transaction: all of it commits, or none."""
        with self.engine.connect() as conn:
            conn.execution_options(vision_write=True)
            with conn.begin():
                yield conn

    def version(self) -> int:
        """The schema version of the database (0 for an empty one)."""
        if not inspect(self.engine).has_table("schema_version"):
            return 0
        with self.read() as conn:
            found = conn.execute(select(schema.schema_version.c.version)).scalars().all()
        return max(found, default=0)

    def migrate(self) -> int:
        """Create missing tables and apply upgrade steps; returns the version reached."""
        current = self.version()
        if current > schema.SCHEMA_VERSION:
            raise ConfigurationError(
                f"The database is at schema version {current}, newer than this Vision AI "
                f"({schema.SCHEMA_VERSION}); upgrade Vision AI or point VISION_DATABASE_URL elsewhere."
            )
        if current == schema.SCHEMA_VERSION:
            return current
        with self.write() as conn:
            schema.metadata.create_all(conn, checkfirst=True)
            for version in range(max(current, 1), schema.SCHEMA_VERSION + 1):
                step = MIGRATIONS.get(version)
                if step is not None and current:
                    step(conn)
                already = conn.execute(
                    select(schema.schema_version.c.version).where(schema.schema_version.c.version == version)
                ).first()
                if already is None:
                    conn.execute(schema.schema_version.insert().values(version=version, applied_at=utcnow()))
        return schema.SCHEMA_VERSION

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        self.engine.dispose()

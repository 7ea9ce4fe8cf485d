"""Persistence through SQLAlchemy Core: one engine per process, over a schema this code checks.

SQLite (the default, at ``$VISION_HOME/vision.db``) runs in WAL mode with a busy
timeout, and write transactions start with ``BEGIN IMMEDIATE``: every kernel
of the web app is its own process writing the same file, and a deferred
transaction that upgrades from reading to writing can fail at once with
"database is locked" instead of waiting. ``VISION_DATABASE_URL`` points the
same code at PostgreSQL when several server processes share one database.

Opening a database never changes its schema: ``upgrade.py`` does that, run by
``vision init`` and ``vision serve``; ``Store.open`` only refuses a database that
is not at this code's schema revision.
"""
from __future__ import annotations

import sqlite3
import time
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from sqlalchemy import Connection, Engine, Table, create_engine, event, make_url, text
from sqlalchemy.exc import IntegrityError

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import ConfigurationError, Conflict

_BUSY_TIMEOUT_MS = 10_000
#: First key of the advisory locks ``serialise`` takes ("VI"): apart from the migration lock's single key.
_LOCK_SPACE = 0x5649


def serialise(conn: Connection, what: str) -> None:
    """Make the caller's write transaction the only one doing ``what`` until it ends.

    For a check-then-insert that no unique index guards (a name unique among the rows not revoked):
    on PostgreSQL two transactions would both find the name free and both insert, so this takes a
    transaction-level advisory lock keyed by ``what``, released by the commit or rollback. SQLite's
    write transactions begin ``IMMEDIATE`` and never overlap, so there it does nothing.
    """
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(what.encode("utf-8")) - 2**31  # a signed 32-bit integer
        conn.execute(text("SELECT pg_advisory_xact_lock(:space, :key)"), {"space": _LOCK_SPACE, "key": key})


@contextmanager
def unique_or_conflict(message: str) -> Iterator[None]:
    """Turn a unique index's refusal inside the block into ``Conflict(message)``.

    The callers check first (to say which name is taken); this is the race the check cannot see on
    PostgreSQL: two transactions both find a name free, the second insert waits on the first's index
    entry and fails when it commits. The caller's transaction is aborted either way, so the
    ``Conflict`` rolls all of it back, as the check's own ``Conflict`` does.
    """
    try:
        yield
    except IntegrityError:
        raise Conflict(message) from None


def dialect_insert(conn: Connection, table: Table):
    """``INSERT`` with ``on_conflict_do_nothing``/``on_conflict_do_update`` (SQLite and PostgreSQL
    spell them alike; SQLAlchemy has them per dialect only)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    return insert(table)


def upsert(conn: Connection, table: Table, key: dict, values: dict) -> None:
    """Insert the row ``key`` with ``values``, or update it when it exists, in ONE statement: an
    update-then-insert lets two first writers both find no row and the second insert fail on the key."""
    stmt = dialect_insert(conn, table).values(**key, **values)
    conn.execute(stmt.on_conflict_do_update(index_elements=list(key), set_=values))


def _enter_wal(cursor) -> None:
    """Switch the file to WAL mode, waiting (up to the busy timeout) while another process holds it.

    Switching a database file's journal mode needs an exclusive lock, and SQLite reports
    "database is locked" for it at once, without calling the busy handler. Two processes opening
    a brand-new file together (two ``vision init``, or ``serve`` beside ``init``) would then fail
    about one time in eight; retrying with a short back-off makes the second one wait its turn.
    Once the file is in WAL mode (it stays so), the pragma is a no-op that never blocks.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT_MS / 1000
    delay = 0.005
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if getattr(exc, "sqlite_errorcode", None) != sqlite3.SQLITE_BUSY or time.monotonic() >= deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # pragma: no cover - driver hook
        # Let SQLAlchemy, not the driver, decide when transactions begin.
        dbapi_connection.isolation_level = None
        cur = dbapi_connection.cursor()
        cur.execute(f"PRAGMA busy_timeout={_BUSY_TIMEOUT_MS}")
        _enter_wal(cur)
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
        else:
            # A pooled connection to a database server can be dead (the server restarted, a proxy or
            # firewall dropped an idle connection): test it on checkout (one round trip) rather than
            # fail the request that draws it. A kernel idles for hours between a person's clicks.
            kwargs["pool_pre_ping"] = True
        self.engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine)

    @classmethod
    def open(cls, settings: Settings) -> "Store":
        """Open the configured database, which must be at this code's schema revision.

        Raises ``ConfigurationError`` (saying to run ``vision init``, or a newer
        Vision AI) otherwise. It checks and never migrates: a kernel per browser
        tab opens the database, and none of them may race to change its schema.
        """
        from vision_widgets.core.storage.upgrade import require_head  # upgrade.py imports this module

        if settings.uses_sqlite:
            path = make_url(settings.database_url).database
            if path and path != ":memory:" and not Path(path).exists():
                # Connecting would create an empty file; say what to do instead.
                raise ConfigurationError(f"There is no database at {path} yet: run `vision init` to create it.")
        store = cls(settings.database_url)
        try:
            require_head(store)
        except BaseException:
            store.dispose()
            raise
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

    def dispose(self) -> None:
        """Close pooled connections (tests, shutdown)."""
        self.engine.dispose()

"""The SQL connector: a table, a view or a read-only query of any SQLAlchemy database.

The SQLAlchemy URL is a *secret* field (it may hold a password). A reference is a table or view
name (``name`` or ``schema.name``, as ``browse`` lists them) or a query. A query must be ONE
read-only ``SELECT``/``WITH`` statement: it is parsed conservatively before it runs (comments and
string literals set aside *as the backend reads them*: ``#`` starts a comment and a backslash
escapes a quote only in MySQL, ``E'…'`` strings take backslash escapes and block comments nest only
in PostgreSQL — reading them otherwise would let text the database runs hide inside what the parser
took for a comment or a string; one statement; no data-modifying keyword anywhere) and then runs in a
read-only session or transaction where the backend has one (PostgreSQL ``SET TRANSACTION READ
ONLY``, SQLite ``PRAGMA query_only`` on a file opened read-only, MySQL ``SET SESSION TRANSACTION
READ ONLY``) — two locks, so a clever query that passes the parser still cannot write.

A SQLite URL names a file that must exist (opening one that does not would create it, and Test
would report success on an empty database), and never the Vision AI database itself: that would let
whoever may use the connector read the app's own tables (users, sessions, sealed secrets).

Why a statement failed (it tried to write, it ran out of time) is decided from the driver's error
code (SQLSTATE, SQLite's result code, MySQL's error number), never from the message's wording.

Rows stream from a server-side cursor (``stream_results``, ``yield_per``) and become Arrow record
batches of ``BATCH_ROWS`` rows; a column's type is set by the first batch. Connecting is bounded by
``connect_timeout`` and each statement (each fetch) by ``statement_timeout``.
"""
from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import Entry, Field, TestResult, check_fields, register_type
from vision_widgets.core.connectors.failures import connector_error, scrub, timed_test, within
from vision_widgets.core.errors import ConnectorError, InvalidInput, VisionError

BATCH_ROWS = 65_536

#: Words that change data or the session: a query holding one (outside strings and comments) is refused.
WRITE_WORDS = frozenset("""
    insert update delete merge upsert replace create alter drop truncate grant revoke attach detach pragma
    vacuum copy call exec execute lock set commit rollback begin savepoint release into reindex analyze load
    import export refresh cluster comment notify listen unlisten do prepare deallocate declare fetch move
    handler rename optimize kill shutdown use
""".split())
_QUERY_START = re.compile(r"^\s*(select|with)\b", re.IGNORECASE)
_TABLE_NAME = re.compile(r"^[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?$")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_$]*")


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def strip_sql(query: str, backend: str | None = None) -> str:
    """``query`` with comments removed and the *contents* of string literals and quoted identifiers
    blanked (so a keyword inside them is not mistaken for one); an unterminated one is refused.

    Tokenised as ``backend`` reads it (``"postgresql"``, ``"mysql"``, ``"sqlite"``, other: standard
    SQL): ``#`` comments and backslash escapes in strings only for MySQL (``#`` is XOR in
    PostgreSQL; backslash escapes also for ``"databricks"``), ``E'…'`` escape strings and nested block comments only for PostgreSQL."""
    mysql = backend in ("mysql", "mariadb")
    spark = backend == "databricks"  # Spark SQL: backslash escapes in '…' and "…" strings
    postgres = backend == "postgresql"
    out: list[str] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if query.startswith("--", i) or (c == "#" and mysql):
            j = query.find("\n", i)
            i = n if j < 0 else j
            out.append(" ")
        elif query.startswith("/*", i):
            depth, j = 1, i + 2
            while depth:
                close = query.find("*/", j)
                if close < 0:
                    raise InvalidInput("The query has a comment that is never closed (/* without */).", field="query")
                inner = query.find("/*", j) if postgres else -1  # PostgreSQL's block comments nest
                if 0 <= inner < close:
                    depth, j = depth + 1, inner + 2
                else:
                    depth, j = depth - 1, close + 2
            i = j
            out.append(" ")
        elif c in "'\"`[":
            close = "]" if c == "[" else c
            escape_string = postgres and c == "'" and i > 0 and query[i - 1] in "eE" \
                and (i == 1 or not (query[i - 2].isalnum() or query[i - 2] in "_$"))
            backslashes = ((mysql or spark) and c in "'\"") or escape_string
            j = i + 1
            while True:
                if backslashes:
                    k = j
                    while k < n and query[k] != close:
                        k += 2 if query[k] == "\\" else 1
                    j = k if k < n else -1
                else:
                    j = query.find(close, j)
                if j < 0:
                    raise InvalidInput("The query has a quote that is never closed.", field="query")
                if close != "]" and query.startswith(close * 2, j):  # '' or "" inside: an escaped quote
                    j += 2
                    continue
                break
            out.append(c + "x" + close if c != "'" else "''")
            i = j + 1
        elif c == "$" and _DOLLAR_TAG.match(query, i):  # PostgreSQL dollar quoting
            tag = _DOLLAR_TAG.match(query, i).group(0)
            j = query.find(tag, i + len(tag))
            if j < 0:
                raise InvalidInput("The query has a $-quoted string that is never closed.", field="query")
            out.append("''")
            i = j + len(tag)
        else:
            out.append(c)
            i += 1
    return "".join(out)


def check_read_only(query: str, backend: str | None = None) -> str:
    """``query`` if it is one read-only ``SELECT``/``WITH`` statement (a trailing ``;`` dropped), else
    ``InvalidInput`` saying why. Conservative: any data-modifying or session keyword outside string
    literals and comments refuses it, even where the backend would have read it harmlessly. ``backend``
    says how the database tokenises the text (see ``strip_sql``)."""
    text = (query or "").strip()
    if not text:
        raise InvalidInput("Give a table name or a SELECT query.", field="query")
    bare = strip_sql(text, backend).strip()
    while bare.endswith(";"):
        bare = bare[:-1].rstrip()
        text = text.rstrip()[:-1].rstrip() if text.rstrip().endswith(";") else text
    if ";" in bare:
        raise InvalidInput("Give one statement only: the query holds more than one (a ';' inside it).", field="query")
    if not _QUERY_START.match(bare):
        raise InvalidInput("Only a read-only query is allowed: it must start with SELECT or WITH.", field="query")
    found = sorted({w.lower() for w in _WORD.findall(bare)} & WRITE_WORDS)
    if found:
        raise InvalidInput(f"Only a read-only query is allowed; this one uses {', '.join(w.upper() for w in found)}. "
                           "Read with SELECT (or WITH … SELECT) only.", field="query")
    return text


def is_query(reference: str, backend: str | None = None) -> bool:
    """Whether ``reference`` is a query (it starts with SELECT or WITH, comments aside) rather than a table."""
    try:
        return bool(_QUERY_START.match(strip_sql(reference or "", backend)))
    except InvalidInput:
        return True


def _url_parts(url: str):
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url)
    except (ArgumentError, ValueError, TypeError):
        raise InvalidInput("The SQLAlchemy URL is not valid; write it as dialect+driver://user:password@host:port/database "
                           "(for example postgresql+psycopg://me:…@db.example.com:5432/sales or sqlite:////data/x.db).",
                           field="url") from None


@register_type
class SqlType:
    """A SQL database through SQLAlchemy: tables, views and read-only queries."""

    type = "sql"
    title = "SQL database"
    fields = (
        Field("url", "SQLAlchemy URL", "dialect+driver://user:password@host:port/database, e.g. "
              "postgresql+psycopg://reader:…@db:5432/sales or sqlite:////srv/data/sales.db", secret=True, required=True),
        Field("schema", "Schema", "The schema whose tables are listed (empty: the default one)."),
        Field("connect_timeout", "Connect timeout (s)", "Seconds to wait for the database to answer.", kind="int",
              default=10),
        Field("statement_timeout", "Statement timeout (s)", "Seconds one statement (one fetch of rows) may run.",
              kind="int", default=300),
    )

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        out, hidden = check_fields(self.fields, config, secrets)
        url = _url_parts(hidden["url"])
        try:
            url.get_dialect()
        except Exception:  # NoSuchModuleError and the like: the dialect or driver is not installed
            raise InvalidInput(f"The SQLAlchemy URL names a database kind this server cannot talk to "
                               f"({url.drivername!r}); use e.g. postgresql+psycopg:// or sqlite:///.", field="url") from None
        for name in ("connect_timeout", "statement_timeout"):
            if not 1 <= out[name] <= 3600:
                raise InvalidInput(f"{name.replace('_', ' ').capitalize()} must be between 1 and 3600 seconds.", field=name)
        return out, hidden

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> "SqlConnection":
        config, secrets = self.check(config, secrets)
        own = settings.database_url if settings is not None and settings.database_url.startswith("sqlite") else None
        return SqlConnection(url=secrets["url"], schema=config.get("schema") or None,
                             connect_timeout=config["connect_timeout"], statement_timeout=config["statement_timeout"],
                             app_database=own)


@dataclass
class SqlConnection:
    """One database; an engine is made on first use (no pool: each read has its own connection)."""

    url: str = field(repr=False)
    schema: str | None = None
    connect_timeout: int = 10
    statement_timeout: int = 300
    #: the Vision AI database's SQLite URL: a connector may never read it (see the module docstring)
    app_database: str | None = field(default=None, repr=False)
    _engine: Any = field(default=None, repr=False)

    # -- engine and read-only sessions ------------------------------------------------------

    @property
    def backend(self) -> str:
        return _url_parts(self.url).get_backend_name()

    def _secrets(self) -> tuple[str, ...]:
        url = _url_parts(self.url)
        return tuple(s for s in (self.url, url.password and str(url.password)) if s)

    def where(self) -> str:
        """The database in words, without credentials: its kind, host and name."""
        url = _url_parts(self.url)
        if self.backend == "sqlite":
            return f"the SQLite database {(url.database or 'in memory').rsplit('/', 1)[-1]}"
        host = f" on {url.host}" + (f":{url.port}" if url.port else "") if url.host else ""
        return f"the {self.backend} database {url.database or ''}{host}".replace("  ", " ")

    def engine(self):
        if self._engine is None:
            from sqlalchemy import create_engine, event
            from sqlalchemy.pool import NullPool

            args: dict[str, Any] = {}
            backend = self.backend
            if backend == "postgresql":
                args["connect_timeout"] = max(1, int(self.connect_timeout))
            elif backend == "mysql":
                args["connect_timeout"] = max(1, int(self.connect_timeout))
            elif backend == "sqlite":
                args["timeout"] = float(self.connect_timeout)
            url = self._sqlite_read_only_url() if backend == "sqlite" else self.url
            try:
                engine = create_engine(url, poolclass=NullPool, connect_args=args)
            except Exception as exc:
                raise connector_error(exc, self.where(), self._secrets()) from None
            if backend == "sqlite":
                @event.listens_for(engine, "connect")
                def _sqlite_read_only(dbapi_conn, record):  # noqa: ANN001 - SQLAlchemy's hook
                    dbapi_conn.execute("PRAGMA query_only = ON")
            elif backend == "mysql":
                @event.listens_for(engine, "connect")
                def _mysql_read_only(dbapi_conn, record):  # SQLAlchemy's hook
                    with dbapi_conn.cursor() as cursor:
                        cursor.execute("SET SESSION TRANSACTION READ ONLY")
            self._engine = engine
        return self._engine

    def _sqlite_read_only_url(self):
        """The SQLite URL opened read-only (``mode=ro``): a file that must exist, and not Vision AI's own."""
        import os
        from urllib.parse import quote

        url = _url_parts(self.url)
        database = url.database or ""
        uri = str(url.query.get("uri", "")).lower() in ("true", "1")
        path = database.split("?", 1)[0].removeprefix("file:") if uri else database
        if not path or path == ":memory:" or url.query.get("mode") == "memory":
            raise InvalidInput("A SQLite connector reads a database file; give its path "
                               "(sqlite:////srv/data/sales.db), not an in-memory database.", field="url")
        real = os.path.realpath(path)
        if not os.path.isfile(real):
            raise InvalidInput(f"There is no SQLite database file {os.path.basename(path)!r} at the path the URL "
                               "gives; check the path (sqlite:////absolute/path.db has four slashes).", field="url")
        if self.app_database:
            own = _url_parts(self.app_database).database or ""
            if own and os.path.exists(own) and os.path.samefile(real, own):
                raise InvalidInput("That is Vision AI's own database; a connector may not read it. Point the "
                                   "connector at a database of model data.", field="url")
        if uri:
            return url.update_query_dict({"mode": "ro"})
        return url.set(database="file:" + quote(real, safe="/"),
                       query={**url.query, "mode": "ro", "uri": "true"})

    def _session(self, conn, deadline: list[float]) -> None:
        """Make ``conn``'s transaction read-only and bound each statement by ``statement_timeout``."""
        from sqlalchemy import text

        backend = self.backend
        if backend == "postgresql":
            conn.execute(text("SET TRANSACTION READ ONLY"))
            conn.execute(text(f"SET LOCAL statement_timeout = {int(self.statement_timeout) * 1000}"))
        elif backend == "mysql":
            # read-only: SET SESSION TRANSACTION READ ONLY when the connection was made (engine)
            conn.execute(text(f"SET SESSION MAX_EXECUTION_TIME = {int(self.statement_timeout) * 1000}"))
        elif backend == "sqlite":
            raw = conn.connection.dbapi_connection
            # SQLite has no statement timeout: a progress handler stops a statement past its deadline.
            raw.set_progress_handler(lambda: 1 if time.monotonic() > deadline[0] else 0, 10_000)

    def _select(self, reference: str) -> tuple[str, str]:
        """The SQL to run for ``reference`` and ``reference`` in words."""
        reference = (reference or "").strip()
        backend = self.backend
        if _TABLE_NAME.match(reference) or (not is_query(reference, backend) and self._listed(reference)):
            return f"SELECT * FROM {self._table(reference)}", f"the table {reference}"
        return check_read_only(reference, backend), "the query"

    def _listed(self, reference: str) -> bool:
        schema, _, name = reference.rpartition(".")
        try:
            return name in {e.name for e in self._tables(schema or self.schema)}
        except VisionError:
            return False

    def _table(self, reference: str) -> str:
        """``reference`` as a quoted table name, if the database has that table or view."""
        if not reference or len(reference) > 300 or "\x00" in reference:
            raise InvalidInput("Give a table name (as listed) or a SELECT query.", field="table")
        schema, _, name = reference.rpartition(".")
        schema = schema or self.schema
        names = {e.name for e in self._tables(schema)}
        if name not in names:
            raise InvalidInput(f"{_cap(self.where())} has no table or view named {reference!r}; "
                               "choose one it lists, or give a SELECT query.", field="table")
        prep = self.engine().dialect.identifier_preparer
        return (prep.quote_schema(schema) + "." if schema else "") + prep.quote(name)

    def _tables(self, schema: str | None) -> list[Entry]:
        from sqlalchemy import inspect

        def listing() -> list[Entry]:
            with self.engine().connect() as conn:
                insp = inspect(conn)
                names = sorted(set(insp.get_table_names(schema=schema)) | set(insp.get_view_names(schema=schema)))
            prefix = f"{schema}." if schema and schema != self.schema else ""
            return [Entry(name=n, path=prefix + n, kind="table") for n in names]

        return within(float(self.connect_timeout) + 5.0, listing, _cap(self.where()), self._secrets())

    # -- the contract -------------------------------------------------------------------------

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        """The tables and views (of ``path`` as a schema, else of the configured one)."""
        return self._tables((path or "").strip() or self.schema)[:limit]

    def describe(self, reference: str) -> str:
        kind = f"the table {reference.strip()}" if _TABLE_NAME.match((reference or "").strip()) else "a query"
        return f"{kind} of {self.where()}"

    def open(self, reference: str) -> Any:
        """A ``pyarrow.RecordBatchReader`` streaming the table or query in batches of ``BATCH_ROWS``."""
        import pyarrow as pa

        sql, what = self._select(reference)
        batches = self._batches(sql, what)
        first = within(float(self.connect_timeout) + float(self.statement_timeout), lambda: next(batches, None),
                       _cap(f"{what} of {self.where()}"), self._secrets())
        if first is None:
            batches.close()
            raise InvalidInput(f"{_cap(what)} of {self.where()} returned no columns.")
        schema = first.schema

        def rest() -> Iterator[pa.RecordBatch]:
            try:
                if first.num_rows:
                    yield first
                yield from batches
            finally:
                batches.close()

        return pa.RecordBatchReader.from_batches(schema, rest())

    def _batches(self, sql: str, what: str) -> Iterator[Any]:
        """Arrow batches of the rows of ``sql`` (the first may be empty: it carries the columns)."""
        import pyarrow as pa
        from sqlalchemy import text

        deadline = [time.monotonic() + self.connect_timeout + self.statement_timeout]
        label = f"{what} of {self.where()}"
        try:
            with self.engine().connect() as conn:
                with conn.begin():
                    self._session(conn, deadline)
                    result = conn.execution_options(stream_results=True, yield_per=BATCH_ROWS).execute(text(sql))
                    names = [str(k) for k in result.keys()]
                    if len(set(names)) != len(names):
                        raise InvalidInput(f"{_cap(label)} has columns with the same name; name each one "
                                           "differently (SELECT a AS a1 …).", field="query")
                    types: list[Any] | None = None
                    sent = False
                    for rows in result.partitions(BATCH_ROWS):
                        columns = list(zip(*rows)) if rows else [() for _ in names]
                        arrays = _arrays(columns, types, names, label)
                        if types is None:
                            types = [a.type for a in arrays]
                        sent = True
                        yield pa.RecordBatch.from_arrays(arrays, names=names)
                        deadline[0] = time.monotonic() + self.statement_timeout
                    if not sent:  # no rows at all: one empty batch gives the columns
                        yield pa.RecordBatch.from_arrays([pa.array([], type=pa.null()) for _ in names], names=names)
        except (InvalidInput, ConnectorError):
            raise
        except GeneratorExit:
            raise
        except Exception as exc:
            raise _sql_error(exc, label, self._secrets()) from None

    def test(self, timeout: float = 10.0) -> TestResult:
        def probe() -> tuple[str, tuple[str, ...]]:
            from sqlalchemy import text

            with self.engine().connect() as conn:
                conn.execute(text("SELECT 1")).all()
            tables = self._tables(self.schema)
            return f"Connected to {self.where()}; {len(tables)} table(s) and view(s).", tuple(e.path for e in tables[:10])

        return timed_test(timeout, probe, _cap(self.where()), self._secrets())

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


#: Driver error codes meaning "tried to write in a read-only session" and "stopped: out of time".
_PG_WRITE, _PG_TIMEOUT = {"25006"}, {"57014"}  # SQLSTATE read_only_sql_transaction, query_canceled
_SQLITE_WRITE, _SQLITE_TIMEOUT = {8}, {9}  # SQLITE_READONLY, SQLITE_INTERRUPT (primary result codes)
_MYSQL_WRITE, _MYSQL_TIMEOUT = {1792, 1290}, {3024, 1317, 1969}  # read-only transaction/option; timeouts


def failure_kind(exc: BaseException) -> str | None:
    """``"write"``, ``"timeout"`` or None for a driver error (SQLAlchemy's wrapper or the DBAPI's own),
    from its code: SQLSTATE (PostgreSQL), SQLite's result code, MySQL's error number."""
    orig = getattr(exc, "orig", None) or exc  # SQLAlchemy's DBAPIError carries the driver's error
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(state, str):
        return "write" if state in _PG_WRITE else "timeout" if state in _PG_TIMEOUT else None
    code = getattr(orig, "sqlite_errorcode", None)
    if isinstance(code, int):
        code &= 0xFF
        return "write" if code in _SQLITE_WRITE else "timeout" if code in _SQLITE_TIMEOUT else None
    number = orig.args[0] if getattr(orig, "args", None) and isinstance(orig.args[0], int) else None
    if number is not None and type(orig).__module__.split(".")[0] in ("pymysql", "MySQLdb", "mysql"):
        return "write" if number in _MYSQL_WRITE else "timeout" if number in _MYSQL_TIMEOUT else None
    return None


def _sql_error(exc: BaseException, label: str, secrets: tuple[str, ...]) -> ConnectorError:
    kind = failure_kind(exc)
    if kind == "write":
        return ConnectorError(f"{_cap(label)} tried to change data; only reading is allowed here.")
    if kind == "timeout":
        return ConnectorError(f"{_cap(label)} ran longer than the statement timeout; make the query "
                              "cheaper or raise the connector's statement timeout.")
    return connector_error(exc, _cap(label), secrets)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _arrays(columns: list[tuple], types: list[Any] | None, names: list[str], label: str) -> list[Any]:
    """One Arrow array per column; the first batch sets each type (decimals read as floats), later
    batches are converted to it."""
    import pyarrow as pa

    arrays = []
    for i, values in enumerate(columns):
        want = None if types is None else types[i]
        try:
            arr = pa.array(values, type=want, from_pandas=True) if want is not None and not pa.types.is_null(want) \
                else pa.array(values, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            try:
                arr = pa.array(values, from_pandas=True).cast(want)
            except Exception:
                raise ConnectorError(f"The column {names[i]!r} of {label} changes type after its first rows; "
                                     "cast it to one type in a query (SELECT CAST(… AS …)).") from None
        if types is None and pa.types.is_decimal(arr.type):
            arr = arr.cast(pa.float64())
        elif want is not None and pa.types.is_null(want) and not pa.types.is_null(arr.type):
            raise ConnectorError(f"The column {names[i]!r} of {label} is empty in its first {BATCH_ROWS} rows and "
                                 "filled later; cast it to a type in a query (SELECT CAST(… AS …)).")
        arrays.append(arr)
    return arrays


__all__ = ["SqlType", "SqlConnection", "check_read_only", "is_query", "scrub"]

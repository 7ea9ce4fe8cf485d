"""The Databricks SQL connector: a table or a read-only query on a Databricks SQL warehouse.

Through ``databricks-sql-connector``: the workspace's server hostname, the warehouse's HTTP path, a
personal access token (a secret), and optionally a catalog and schema. Results arrive as Arrow
(``fetchmany_arrow``) in batches of ``BATCH_ROWS`` rows. Queries pass the same conservative
read-only check as the ``sql`` type (one SELECT/WITH statement, no data-modifying keyword); the
token should belong to a principal that may only read.

Two different waits, two settings. ``timeout`` bounds each exchange with the warehouse (the socket
timeout, one attempt, no retries for minutes): an unreachable host fails fast. ``query_timeout``
bounds how long a query may *run*, a cold warehouse's start included (often minutes): the warehouse
is told (``STATEMENT_TIMEOUT``), the wait for the first rows and for each later batch is bounded by
it, and a query still running past it is cancelled at the warehouse, never left running abandoned.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import Entry, Field, TestResult, check_fields, register_type
from vision_widgets.core.connectors.failures import connector_error, timed_test, within
from vision_widgets.core.connectors.sql import check_read_only
from vision_widgets.core.errors import ConnectorError, InvalidInput, VisionError

BATCH_ROWS = 65_536
QUERY_TIMEOUT = 1800  # a serverless warehouse starts in seconds, a classic one in minutes; queries run on
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.\-]*[A-Za-z0-9])?$")
_IDENT = re.compile(r"^[A-Za-z_][\w]*$")
_TABLE = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*){0,2}$")


@register_type
class DatabricksSqlType:
    """A Databricks SQL warehouse (databricks-sql-connector)."""

    type = "databricks_sql"
    title = "Databricks SQL warehouse"
    fields = (
        Field("server_hostname", "Server hostname", "The workspace's host, e.g. adb-1234567890123456.7.azuredatabricks.net.",
              required=True),
        Field("http_path", "HTTP path", "The warehouse's HTTP path, e.g. /sql/1.0/warehouses/abc123def456.", required=True),
        Field("access_token", "Access token", "A personal access token (or a service principal's) that may read.",
              secret=True, required=True),
        Field("catalog", "Catalog", "e.g. main (empty: the workspace default)."),
        Field("schema", "Schema", "e.g. default (empty: the catalog default)."),
        Field("port", "Port", kind="int", default=443),
        Field("timeout", "Timeout (s)", "Seconds to wait for the warehouse to answer one request.", kind="int",
              default=30),
        Field("query_timeout", "Query timeout (s)", "Seconds a query may run, a cold warehouse's start included; "
              "past it the query is cancelled.", kind="int", default=QUERY_TIMEOUT),
    )

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        out, hidden = check_fields(self.fields, config, secrets)
        host = out["server_hostname"].removeprefix("https://").rstrip("/")
        if not _HOST.match(host):
            raise InvalidInput("The server hostname is the workspace's host name only, e.g. "
                               "adb-1234567890123456.7.azuredatabricks.net (no https://, no path).", field="server_hostname")
        out["server_hostname"] = host
        if not out["http_path"].startswith("/") or " " in out["http_path"]:
            raise InvalidInput("The HTTP path starts with /, e.g. /sql/1.0/warehouses/abc123def456.", field="http_path")
        for name in ("catalog", "schema"):
            if out.get(name) and not _IDENT.match(out[name]):
                raise InvalidInput(f"The {name} is a name of letters, digits and underscores.", field=name)
        if not 1 <= out["port"] <= 65535:
            raise InvalidInput("The port is a number from 1 to 65535.", field="port")
        if not 1 <= out["timeout"] <= 600:
            raise InvalidInput("The timeout must be between 1 and 600 seconds.", field="timeout")
        if not 1 <= out["query_timeout"] <= 172_800:  # Databricks' own STATEMENT_TIMEOUT maximum: 48 h
            raise InvalidInput("The query timeout must be between 1 and 172800 seconds (48 h).", field="query_timeout")
        return out, hidden

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> "DatabricksSqlConnection":
        config, secrets = self.check(config, secrets)
        return DatabricksSqlConnection(config=config, secrets=secrets)


@dataclass
class DatabricksSqlConnection:
    """One warehouse; a session is opened per call and closed after."""

    config: dict
    secrets: dict = field(repr=False)

    @property
    def timeout(self) -> float:
        return float(self.config.get("timeout") or 30)

    @property
    def query_timeout(self) -> float:
        return float(self.config.get("query_timeout") or QUERY_TIMEOUT)

    def where(self) -> str:
        return f"the Databricks SQL warehouse at {self.config['server_hostname']}"

    def _session(self):
        from databricks import sql as dbsql

        t = self.timeout
        return dbsql.connect(
            server_hostname=self.config["server_hostname"], http_path=self.config["http_path"],
            access_token=self.secrets["access_token"], catalog=self.config.get("catalog") or None,
            schema=self.config.get("schema") or None, _port=int(self.config.get("port") or 443),
            _socket_timeout=t, _retry_stop_after_attempts_count=1, _retry_stop_after_attempts_duration=t,
            _retry_delay_min=0.1, _retry_delay_max=5.0, enable_telemetry=False,
            session_configuration={"STATEMENT_TIMEOUT": str(int(self.query_timeout))},
        )

    def _error(self, exc: BaseException, what: str) -> ConnectorError:
        return connector_error(exc, what, self.secrets.values())

    def _call(self, fn, what: str, limit: float | None = None, state: dict | None = None) -> Any:
        """``fn()`` bounded by ``limit`` seconds (default: one exchange, ``timeout`` + 5); past it the
        cursor in ``state`` is cancelled at the warehouse and the session closed."""
        def guarded():
            try:
                return fn()
            except VisionError:
                raise
            except Exception as exc:
                raise self._error(exc, what) from None

        if limit is None:
            return within(self.timeout + 5.0, guarded, what, self.secrets.values())
        late = (f"{what} ran longer than the query timeout ({limit:g} s) and was cancelled; make the query "
                "cheaper, start the warehouse first, or raise the connector's query timeout.")
        return within(limit, guarded, what, self.secrets.values(),
                      on_timeout=lambda: _cancel(state or {}), late=late)

    def _select(self, reference: str) -> tuple[str, str]:
        reference = (reference or "").strip()
        if _TABLE.match(reference):
            return "SELECT * FROM " + ".".join(f"`{p}`" for p in reference.split(".")), f"the table {reference}"
        return check_read_only(reference, "databricks"), "the query"

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        """The tables of ``path`` (``catalog.schema``), else of the configured catalog and schema."""
        catalog, _, schema = (path or "").strip().rpartition(".")
        catalog = catalog or self.config.get("catalog")
        schema = schema or self.config.get("schema")

        def listing() -> list[Entry]:
            with self._session() as conn, conn.cursor() as cur:
                cur.tables(catalog_name=catalog, schema_name=schema)
                rows = cur.fetchmany(limit)
            return [Entry(name=r.TABLE_NAME, path=".".join(p for p in (r.TABLE_CAT, r.TABLE_SCHEM, r.TABLE_NAME) if p),
                          kind="table") for r in rows]

        return self._call(listing, _cap(self.where()))

    def open(self, reference: str) -> Any:
        import pyarrow as pa

        sql, what = self._select(reference)
        label = f"{_cap(what)} on {self.where()}"
        state: dict[str, Any] = {}

        def start() -> Any:
            conn = self._session()
            cur = conn.cursor()
            state.update(conn=conn, cur=cur)
            cur.execute(sql)
            return cur.fetchmany_arrow(BATCH_ROWS)

        running = self.timeout + self.query_timeout
        try:
            first = self._call(start, label, running, state)
        except BaseException:
            _close(state)
            raise

        def batches() -> Iterator[Any]:
            try:
                table = first
                while True:
                    yield from table.to_batches()
                    if table.num_rows < BATCH_ROWS:
                        return
                    table = self._call(lambda: state["cur"].fetchmany_arrow(BATCH_ROWS), label, running, state)
                    if table.num_rows == 0:
                        return
            finally:
                _close(state)

        return pa.RecordBatchReader.from_batches(first.schema, batches())

    def describe(self, reference: str) -> str:
        kind = f"the table {reference.strip()}" if _TABLE.match((reference or "").strip()) else "a query"
        return f"{kind} on {self.where()}"

    def test(self, timeout: float = 10.0) -> TestResult:
        def probe() -> tuple[str, tuple[str, ...]]:
            with self._session() as conn, conn.cursor() as cur:
                cur.execute("SELECT 1")
                cur.fetchall()
            tables = self.browse("", 10)
            return f"Connected to {self.where()}; {len(tables)} table(s) seen.", tuple(e.path for e in tables)

        return timed_test(min(timeout, self.timeout + 5.0), probe, _cap(self.where()), self.secrets.values())

    def close(self) -> None:
        return None


def _cancel(state: dict) -> None:
    """Stop the query running in ``state`` at the warehouse (``Cursor.cancel`` may be called from
    another thread), then close the session."""
    cur = state.get("cur")
    if cur is not None:
        try:
            cur.cancel()
        except Exception:  # noqa: BLE001, S110 - already finished or the session is gone: nothing left running
            pass
    _close(state)


def _close(state: dict) -> None:
    for key in ("cur", "conn"):
        try:
            if key in state:
                state.pop(key).close()
        except Exception:  # closing a broken session: nothing more to do
            pass


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]

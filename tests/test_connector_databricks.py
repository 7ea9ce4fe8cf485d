"""The ``databricks_sql`` connector type: no warehouse exists here, so its settings are validated and
an unreachable warehouse (a closed port, a port that never answers) gives a plain error in time,
never the token; queries pass the same read-only check as the ``sql`` type."""
from __future__ import annotations

import time

import pytest

from tests.support.blackhole import closed_port, silent_port
from vision_widgets.core import connectors
from vision_widgets.core.errors import ConnectorError, InvalidInput

DBX = connectors.type_of("databricks_sql")
TOKEN = "dapi0123456789abcdef0123456789abcdef"
GOOD = {"server_hostname": "adb-1234567890123456.7.azuredatabricks.net", "http_path": "/sql/1.0/warehouses/abc123"}


def test_the_settings_are_validated():
    config, secrets = DBX.check({**GOOD, "server_hostname": "https://adb-1.azuredatabricks.net/"}, {"access_token": TOKEN})
    assert config["server_hostname"] == "adb-1.azuredatabricks.net" and config["port"] == 443
    assert secrets == {"access_token": TOKEN}
    for bad, field in (({**GOOD, "server_hostname": "adb/x"}, "server_hostname"),
                       ({**GOOD, "http_path": "sql/1.0"}, "http_path"),
                       ({**GOOD, "catalog": "main; drop"}, "catalog"),
                       ({**GOOD, "port": "0"}, "port")):
        with pytest.raises(InvalidInput) as err:
            DBX.check(bad, {"access_token": TOKEN})
        assert err.value.field == field
    with pytest.raises(InvalidInput) as err:
        DBX.check(GOOD, {})
    assert err.value.field == "access_token"
    assert [f.name for f in DBX.fields if f.secret] == ["access_token"]


def _local(port: int, timeout: int = 2):
    return DBX.connect(None, {"server_hostname": "127.0.0.1", "http_path": "/sql/1.0/warehouses/x", "port": port,
                              "timeout": timeout}, {"access_token": TOKEN})


def test_a_closed_port_fails_at_once_in_plain_words():
    conn = _local(closed_port())
    started = time.monotonic()
    result = conn.test(timeout=10)
    assert time.monotonic() - started < 10
    assert not result.ok and TOKEN not in result.message and "Databricks SQL warehouse at 127.0.0.1" in result.message
    with pytest.raises(ConnectorError) as err:
        conn.open("main.default.churn")
    assert TOKEN not in str(err.value)


def test_a_warehouse_that_never_answers_fails_within_the_timeout():
    with silent_port() as port:
        conn = _local(port, timeout=2)
        started = time.monotonic()
        result = conn.test(timeout=4)
        assert time.monotonic() - started < 8
        assert not result.ok and TOKEN not in result.message


def test_a_query_that_is_not_read_only_is_refused_before_connecting():
    conn = _local(closed_port())
    with pytest.raises(InvalidInput, match="must start with SELECT"):
        conn.open("DROP TABLE main.default.churn")
    with pytest.raises(InvalidInput, match="uses .*UPDATE"):
        conn.open("WITH x AS (SELECT 1) UPDATE t SET a = 1")


# --- review 11b #9: how long a query may run is not how long one request may take ----------------


class _FakeWarehouse:
    """A warehouse (a fake of databricks.sql.connect): each query runs ``runs`` seconds unless cancelled."""

    def __init__(self, runs: float):
        import threading

        self.runs, self.cancelled, self.kwargs = runs, threading.Event(), {}

    def connect(self, **kwargs):
        self.kwargs = kwargs
        return self

    def cursor(self):
        return self

    def execute(self, sql):
        self.cancelled.wait(self.runs)

    def fetchmany_arrow(self, n):
        import pyarrow as pa

        return pa.table({"x": [1, 2, 3]})

    def cancel(self):
        self.cancelled.set()

    def close(self):
        pass


def _fake(monkeypatch, runs: float, **config):
    from databricks import sql as dbsql

    warehouse = _FakeWarehouse(runs)
    monkeypatch.setattr(dbsql, "connect", warehouse.connect)
    conn = DBX.connect(None, {**GOOD, "timeout": 1, **config}, {"access_token": TOKEN})
    return conn, warehouse


def test_a_query_running_longer_than_one_request_may_take_still_returns_its_rows(monkeypatch):
    # a cold warehouse / a long query: the old bound (timeout + 5 s for the whole query) failed it
    conn, warehouse = _fake(monkeypatch, runs=6.5, query_timeout=60)
    assert conn.open("SELECT x FROM t").read_all().num_rows == 3
    assert warehouse.kwargs["session_configuration"] == {"STATEMENT_TIMEOUT": "60"}
    assert not warehouse.cancelled.is_set()


def test_a_query_past_the_query_timeout_is_cancelled_at_the_warehouse(monkeypatch):
    conn, warehouse = _fake(monkeypatch, runs=60, query_timeout=1)
    with pytest.raises(ConnectorError, match="query timeout") as err:
        conn.open("SELECT x FROM t")
    assert warehouse.cancelled.is_set() and TOKEN not in str(err.value)
    with pytest.raises(InvalidInput) as bad:
        DBX.check({**GOOD, "query_timeout": 0}, {"access_token": TOKEN})
    assert bad.value.field == "query_timeout"

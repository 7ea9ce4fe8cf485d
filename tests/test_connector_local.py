"""The ``local`` connector type: the allowed roots browsed by name, files opened as paths (today's fast
paths), folders of Parquet files opened as a stream; nothing outside the roots, no server path shown."""
from __future__ import annotations

import os

import pytest

from tests.support import connector_data
from vision_widgets.core import connectors
from vision_widgets.core.connectors import Entry
from vision_widgets.core.errors import InvalidInput


@pytest.fixture
def local(settings):
    data = settings.home / "data"
    (data / "sales" / "parts").mkdir(parents=True)
    df = connector_data.frame(6000)
    df.to_csv(data / "sales" / "all.csv", index=False)
    df.to_parquet(data / "sales" / "all.parquet", index=False)
    for i, start in enumerate(range(0, 6000, 2000)):
        df.iloc[start:start + 2000].to_parquet(data / "sales" / "parts" / f"part-{i}.parquet", index=False)
    (data / "sales" / "notes.txt").write_text("not data")
    return connectors.type_of("local").connect(settings, {}, {}), data


def test_the_registry_lists_every_type_in_a_stable_order():
    assert [t.type for t in connectors.types()][:2] == ["local", "sql"]
    assert connectors.type_of("local").fields == ()
    with pytest.raises(InvalidInput, match="choose one of: local, sql") as err:
        connectors.type_of("ftp")
    assert err.value.field == "type"


def test_the_top_lists_the_roots_by_name_never_by_server_path(local, settings):
    conn, data = local
    top = conn.browse()
    assert Entry("data", "data", "folder") in top
    assert all(str(settings.home) not in e.path and not e.path.startswith("/") for e in top)
    assert conn.browse("data/sales") == [Entry("parts", "data/sales/parts", "folder"),
                                         Entry("all.csv", "data/sales/all.csv", "file"),
                                         Entry("all.parquet", "data/sales/all.parquet", "file")]


def test_files_open_as_their_paths_and_a_parquet_folder_as_a_stream_with_the_same_profile(local):
    conn, data = local
    csv_path = conn.open("data/sales/all.csv")
    assert csv_path == (data / "sales" / "all.csv").resolve()
    by_file = connector_data.profile_of(conn.open("data/sales/all.parquet"))
    by_folder = connector_data.profile_of(conn.open("data/sales/parts"))
    assert by_file.rows == 6000
    assert by_folder.to_dict() == by_file.to_dict()


def test_nothing_outside_the_roots_is_read_or_listed(local, tmp_path):
    conn, data = local
    outside = tmp_path / "secret"
    outside.mkdir()
    connector_data.frame(10).to_parquet(outside / "x.parquet")
    os.symlink(outside, data / "sales" / "parts" / "escape")
    os.symlink(outside / "x.parquet", data / "sales" / "parts" / "link.parquet")
    for ref in ("/etc", "data/../..", str(outside), "data/sales/parts/escape"):
        with pytest.raises(InvalidInput, match="outside the folders"):
            conn.open(ref)
    assert [e.name for e in conn.browse("data/sales/parts")] == ["part-0.parquet", "part-1.parquet", "part-2.parquet"]
    assert connector_data.profile_of(conn.open("data/sales/parts")).rows == 6000  # the links are not read


def test_a_folder_without_parquet_files_and_a_text_file_are_refused_in_plain_words(local):
    conn, data = local
    (data / "empty").mkdir()
    with pytest.raises(InvalidInput, match="holds no Parquet files"):
        conn.open("data/empty")
    with pytest.raises(InvalidInput, match="not a CSV or Parquet file"):
        conn.open("data/sales/notes.txt")
    with pytest.raises(InvalidInput, match="No file at data/nope.csv"):
        conn.open("data/nope.csv")


def test_test_reports_the_roots_it_reads_and_a_sample(local):
    conn, _ = local
    result = conn.test()
    assert result.ok and result.latency_ms >= 0
    assert "data" in result.message and "data/sales" in result.sample


def test_a_profiling_error_names_the_users_reference_never_the_server_path(local, settings):
    """Review 11b #4: client.profile's messages name the resolved path open() handed it; the
    ``connectors.reworded`` guard puts the user's reference back (type and field unchanged)."""
    from vision_widgets import client

    conn, data = local
    import pandas as pd

    pd.DataFrame({"a": []}).to_parquet(data / "sales" / "empty.parquet", index=False)
    with pytest.raises(InvalidInput) as err, connectors.reworded(conn):
        client.profile(str(conn.open("data/sales/empty.parquet")))
    text = str(err.value)
    assert "data/sales/empty.parquet" in text
    assert str(settings.home) not in text and str(data.resolve()) not in text
    # any other path under a data folder is named by the folder, not where the server keeps it
    assert connectors.reword(f"{data.resolve()}/x.csv broke", conn) == "data/x.csv broke"
    assert connectors.reword(f"{data.resolve()}-old/x.csv", conn) == f"{data.resolve()}-old/x.csv"  # not a data folder
    # a connection that hands out no server paths leaves text alone
    assert connectors.reword("as is", object()) == "as is"


def test_browsing_a_big_folder_resolves_only_what_it_returns(local, monkeypatch, tmp_path):
    """Review 11b #11: browse sorted and resolved every child (a stat and a realpath each) before the
    limit; now names and types come from one directory read and only links are resolved, up to the limit."""
    from vision_widgets.core.connectors import local as local_module

    conn, data = local
    big = data / "big"
    big.mkdir()
    for i in range(300):
        (big / f"f{i:04d}.csv").write_text("a\n1\n")
        os.symlink(big / f"f{i:04d}.csv", big / f"link{i:04d}.csv")
    os.symlink(tmp_path, big / "a-way-out")  # a folder link leading outside: never listed
    calls = []
    real = local_module._inside_roots
    monkeypatch.setattr(local_module, "_inside_roots", lambda s, p: calls.append(p) or real(s, p))
    entries = conn.browse("data/big", limit=5)
    assert [e.name for e in entries] == ["f0000.csv", "f0001.csv", "f0002.csv", "f0003.csv", "f0004.csv"]
    assert len(calls) <= 1  # only the link 'a-way-out' (sorted first, as a folder) is resolved
    assert "a-way-out" not in [e.name for e in conn.browse("data/big", limit=1000)]

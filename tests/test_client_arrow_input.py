"""``client.profile`` reads Arrow data (a RecordBatchReader, a Table, an iterable of batches) as it
reads the same data from a Parquet file: the profiles are identical."""
from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.support import connector_data
from vision_widgets import client
from vision_widgets.core.errors import InvalidInput


@pytest.fixture
def data(tmp_path):
    df = connector_data.frame(25_000)
    path = tmp_path / "data.parquet"
    df.to_parquet(path, index=False)
    return df, path, pq.read_table(path)


def _batches(table: pa.Table, size: int) -> list[pa.RecordBatch]:
    return table.to_batches(max_chunksize=size)


@pytest.mark.parametrize("size", [997, 8192, 70_000])
def test_a_reference_and_a_current_profile_are_the_same_from_a_file_a_reader_and_batches(data, size):
    df, path, table = data
    roles = connector_data.roles()
    ref_file = client.profile(path, roles=roles, chunk_rows=8192)
    ref_reader = client.profile(pa.RecordBatchReader.from_batches(table.schema, _batches(table, size)), roles=roles,
                                chunk_rows=8192)
    ref_list = client.profile(_batches(table, size), roles=roles, chunk_rows=8192)
    ref_table = client.profile(table, roles=roles, chunk_rows=8192)
    assert ref_file.rows == 25_000
    assert ref_reader.to_dict() == ref_file.to_dict()
    assert ref_list.to_dict() == ref_file.to_dict()
    assert ref_table.to_dict() == ref_file.to_dict()

    current = table.slice(5_000, 12_000)
    cur_path = path.with_name("current.parquet")
    pq.write_table(current, cur_path)
    cur_file = client.profile(cur_path, reference=ref_file, chunk_rows=8192)
    cur_reader = client.profile(pa.RecordBatchReader.from_batches(current.schema, _batches(current, size)),
                                reference=ref_file, chunk_rows=8192)
    cur_gen = client.profile((b for b in _batches(current, size)), reference=ref_file, chunk_rows=8192)
    assert cur_file.rows == 12_000
    assert cur_reader.to_dict() == cur_file.to_dict()
    assert cur_gen.to_dict() == cur_file.to_dict()


def test_a_stream_is_read_once_as_it_arrives(data):
    _, _, table = data
    seen = []

    def stream():
        for b in table.to_batches(max_chunksize=1000):
            seen.append(b.num_rows)
            yield b

    prof = client.profile(stream(), roles=connector_data.roles(), chunk_rows=4096)
    assert prof.rows == 25_000 and sum(seen) == 25_000


def test_an_empty_stream_says_there_are_no_rows(data):
    _, _, table = data
    empty = pa.RecordBatchReader.from_batches(table.schema, iter(()))
    with pytest.raises(InvalidInput, match="has no rows"):
        client.profile(empty, roles=connector_data.roles())
    with pytest.raises(InvalidInput, match="has no rows"):
        client.profile([], roles=connector_data.roles())
    with pytest.raises(InvalidInput, match="has no rows"):
        client.profile(table.slice(0, 0), roles=connector_data.roles())


def test_batches_that_disagree_on_their_columns_are_refused(data):
    _, _, table = data
    a = table.slice(0, 100).to_batches()[0]
    b = table.slice(100, 100).drop_columns(["plan"]).to_batches()[0]
    with pytest.raises(InvalidInput, match="same columns"):
        client.profile([a, b], roles=connector_data.roles(), chunk_rows=50)


def test_something_that_is_not_arrow_is_refused_in_plain_words():
    with pytest.raises(InvalidInput, match="RecordBatch"):
        client.profile([1, 2, 3])
    with pytest.raises(InvalidInput, match="cannot profile a int"):
        client.profile(42)

"""Usage records (core/usage/records.py): one record's validation, CSV and JSON parsing that names every
bad line and column, and the idempotent store."""
from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from helpers import START

from vision_widgets.core.errors import InvalidInput, MalformedJSON
from vision_widgets.core.usage import records as usage
from vision_widgets.core.usage.records import InvalidRecords, UsageRecord

LIMIT = 1_000_000
HEADER = "timestamp,predictions,compute_hours,cpu_share,memory_share,gpu_share\n"


def good(**overrides) -> dict:
    return {"timestamp": "2026-09-01T00:00:00Z", "predictions": 100, "compute_hours": 1.5, **overrides}


# --- one record -------------------------------------------------------------------------------

def test_a_record_with_a_zone_is_converted_to_utc_and_a_naive_one_is_utc():
    assert usage.validate(good(timestamp="2026-09-01T02:00:00+02:00")).at == datetime(2026, 9, 1, tzinfo=UTC)
    assert usage.validate(good(timestamp="2026-09-01T00:00:00")).at == datetime(2026, 9, 1, tzinfo=UTC)
    assert usage.validate(good(timestamp="2026-09-01")).at == datetime(2026, 9, 1, tzinfo=UTC)


def test_shares_are_optional_and_kept_when_given():
    record = usage.validate(good(cpu_share=0.25, gpu_share=1, memory_share=None))
    assert (record.cpu_share, record.memory_share, record.gpu_share) == (0.25, None, 1.0)


@pytest.mark.parametrize("overrides, field, words", [
    ({"predictions": -3}, "predictions", "-3 is negative"),
    ({"predictions": 2.5}, "predictions", "2.5 is not a whole number"),
    ({"predictions": True}, "predictions", "True is not a whole number"),
    ({"predictions": "100"}, "predictions", "is text"),
    ({"predictions": 2**31}, "predictions", "over"),
    ({"compute_hours": -0.5}, "compute_hours", "-0.5 is negative"),
    ({"compute_hours": float("inf")}, "compute_hours", "not a finite number"),
    ({"compute_hours": float("nan")}, "compute_hours", "not a finite number"),
    ({"cpu_share": 1.2}, "cpu_share", "1.2 is outside 0..1"),
    ({"gpu_share": -0.1}, "gpu_share", "-0.1 is outside 0..1"),
    ({"timestamp": "yesterday"}, "timestamp", "'yesterday' is not an ISO 8601"),
    ({"timestamp": 1700000000}, "timestamp", "not an ISO 8601"),
    ({"timestamp": None}, "timestamp", "missing"),
    ({"latency_ms": 12}, "'latency_ms'", "not a usage field"),
    # far from today: a year typo is refused, never stored and counted on another day
    ({"timestamp": "2611-03-23T12:00:00Z"}, "timestamp", "is outside 2000-01-01 .. 2099-12-31 (UTC)"),
    ({"timestamp": "1999-12-31T23:59:59Z"}, "timestamp", "is outside 2000-01-01"),
    # the zone conversion itself would overflow a datetime
    ({"timestamp": "0001-01-01T00:00:00+01:00"}, "timestamp", "is outside 2000-01-01"),
    ({"timestamp": "9999-12-31T23:59:59-01:00"}, "timestamp", "is outside 2000-01-01"),
    # float() of a 400-digit integer raises OverflowError, not ValueError
    ({"compute_hours": 10**400}, "compute_hours", "is too large"),
    ({"cpu_share": 10**400}, "cpu_share", "is too large"),
    ({"predictions": 10**400}, "predictions", "is over 2,147,483,647"),
])
def test_each_bad_field_is_named_with_its_value(overrides, field, words):
    with pytest.raises(InvalidInput) as caught:
        usage.validate(good(**overrides))
    assert caught.value.field == field
    assert f"{field}: " in str(caught.value) and words in str(caught.value)


def test_every_problem_of_one_record_is_named_at_once():
    record, problems = usage.check({"predictions": -1, "compute_hours": "x", "extra": 1}, typed=False)
    assert record is None
    assert {column for column, _ in problems} == {"'extra'", "timestamp", "predictions", "compute_hours"}


# --- CSV --------------------------------------------------------------------------------------

def test_a_csv_with_the_required_columns_in_any_order_and_empty_shares():
    data = ("compute_hours,timestamp,predictions,gpu_share\n"
            "1.5,2026-09-01T00:00:00Z,120,\n"
            "\n"
            "2,2026-09-02,130,0.4\n")
    found = usage.parse_csv(data.encode(), LIMIT)
    assert found == [
        UsageRecord(datetime(2026, 9, 1, tzinfo=UTC), 120, 1.5),
        UsageRecord(datetime(2026, 9, 2, tzinfo=UTC), 130, 2.0, gpu_share=0.4),
    ]


def test_a_utf8_bom_from_a_spreadsheet_is_accepted():
    assert len(usage.parse_csv(("\ufeff" + HEADER + "2026-09-01,1,1,,,\n").encode("utf-8"), LIMIT)) == 1


@pytest.mark.parametrize("header, words", [
    ("time,predictions,compute_hours", "missing timestamp; not usage columns: 'time'"),
    ("timestamp,predictions,compute_hours,region", "not usage columns: 'region'"),
    ("timestamp,predictions,predictions,compute_hours", "repeated: predictions"),
])
def test_a_wrong_header_is_one_message_with_the_expected_and_found_columns(header, words):
    with pytest.raises(InvalidInput) as caught:
        usage.parse_csv(f"{header}\n2026-09-01,1,1\n".encode(), LIMIT)
    message = str(caught.value)
    assert message.startswith("Wrong columns: expected timestamp,predictions,compute_hours and optionally "
                              "cpu_share,memory_share,gpu_share; found ")
    assert words in message and "Nothing was stored" in message
    assert caught.value.field == "header"


def test_every_bad_line_is_named_with_its_number_and_column():
    data = (HEADER
            + "2026-09-01,10,1,,,\n"           # line 2 good
            + "2026-09-02,-5,1,,,\n"           # line 3 negative predictions
            + "2026-09-03,10,-1,1.5,,\n"       # line 4 negative hours and a share over 1
            + "not a date,10,1,,,\n"           # line 5
            + "2026-09-05,10\n"                # line 6 too few cells
            + "2026-09-01,11,1,,,\n")          # line 7 repeats line 2's timestamp
    with pytest.raises(InvalidRecords) as caught:
        usage.parse_csv(data.encode(), LIMIT)
    err = caught.value
    assert err.lines == (3, 4, 5, 6, 7)
    assert err.problems == (
        "line 3, column predictions: -5 is negative; count the predictions made (0 or more)",
        "line 4, column compute_hours: '-1' is negative; give the hours used (0 or more)",
        "line 4, column cpu_share: '1.5' is outside 0..1 (a share: 0.35 means 35%)",
        "line 5, column timestamp: 'not a date' is not an ISO 8601 date and time (e.g. 2026-09-01T00:00:00Z)",
        "line 6: 2 cell(s) where the header has 6",
        "line 7, column timestamp: 2026-09-01T00:00:00+00:00 repeats line 2; send one record per timestamp",
    )
    assert str(err).startswith("5 line(s) of the file are not valid usage records; nothing was stored. line 3,")


def test_a_file_with_many_bad_lines_spells_out_fifty_and_names_every_other_line():
    data = HEADER + "".join(f"2026-09-01T{h:02d}:{m:02d}:00,-1,1,,,\n" for h in range(2) for m in range(60))
    with pytest.raises(InvalidRecords) as caught:
        usage.parse_csv(data.encode(), LIMIT)
    message = str(caught.value)
    assert len(caught.value.problems) == 120 and message.count("column predictions") == usage.SPELLED_OUT
    assert "and 70 more problem(s) on line(s) 52, 53," in message and message.endswith(", 121.")


def test_a_file_over_the_limit_is_refused_with_the_limit():
    with pytest.raises(InvalidInput, match=r"the limit is 1,024 bytes"):
        usage.parse_csv((HEADER + "2026-09-01,1,1,,,\n" * 100).encode(), 1024)


@pytest.mark.parametrize("data, words", [
    (b"", "The file is empty"),
    (HEADER.encode(), "a header but no records"),
    (b"\xff\xfe\x00t", "not UTF-8"),
])
def test_empty_files_and_other_encodings_are_refused(data, words):
    with pytest.raises(InvalidInput, match=words):
        usage.parse_csv(data, LIMIT)


# --- JSON -------------------------------------------------------------------------------------

def test_json_lines_name_lines_that_are_not_json():
    body = json.dumps(good()) + "\n{broken\n\n" + json.dumps(good(timestamp="2026-09-02")) + "\n[1,\n"
    with pytest.raises(MalformedJSON, match=r"Line\(s\) 2, 5 of the body are not JSON"):
        usage.parse_json_lines(body.encode(), LIMIT)


def test_json_lines_name_invalid_records_by_line():
    body = "\n".join([json.dumps(good()), json.dumps([1]), json.dumps(good(timestamp="2026-09-02", predictions=-1))])
    with pytest.raises(InvalidRecords) as caught:
        usage.parse_json_lines(body.encode(), LIMIT)
    assert caught.value.problems == ("line 2: not a JSON object with the usage fields",
                                     ("line 3, column predictions: -1 is negative; count the predictions made "
                                      "(0 or more)"))


def test_a_json_array_names_records_by_position():
    body = json.dumps([good(), good(timestamp="2026-09-02", compute_hours="3")])
    with pytest.raises(InvalidRecords, match=r"record 2, column compute_hours: '3' is text"):
        usage.parse_json_list(body.encode(), LIMIT)
    assert len(usage.parse_json_list(json.dumps([good()]).encode(), LIMIT)) == 1


def test_more_records_than_the_batch_limit_are_refused(monkeypatch):
    monkeypatch.setattr(usage, "MAX_RECORDS", 3)
    body = "\n".join(json.dumps(good(timestamp=f"2026-09-0{d}")) for d in range(1, 6))
    with pytest.raises(InvalidInput, match="More than 3 records at once"):
        usage.parse_json_lines(body.encode(), LIMIT)


# --- storage ----------------------------------------------------------------------------------

@pytest.fixture
def model_id(ctx, register_restricted):
    return register_restricted("Usage model").model.id


def rows(ctx, model_id):
    from sqlalchemy import select

    from vision_widgets.core.storage import schema

    t = schema.usage_records
    with ctx.store.read() as conn:
        return [dict(r) for r in conn.execute(select(t).where(t.c.model_id == model_id).order_by(t.c.at)).mappings()]


def test_store_is_idempotent_per_model_and_timestamp_and_keeps_the_first_record(ctx, model_id):
    first = [usage.validate(good()), usage.validate(good(timestamp="2026-09-02"))]
    with ctx.store.write() as conn:
        assert usage.store(conn, model_id, first, "api", START) == usage.Stored(2, 0, 0)
    again = [usage.validate(good()), usage.validate(good(timestamp="2026-09-02", predictions=999)),
             usage.validate(good(timestamp="2026-09-03"))]
    with ctx.store.write() as conn:
        assert usage.store(conn, model_id, again, "csv", START) == usage.Stored(1, 2, 1)
    stored = rows(ctx, model_id)
    assert [r["predictions"] for r in stored] == [100, 100, 100]  # the first value sent is kept
    assert [r["source"] for r in stored] == ["api", "api", "csv"]


def test_store_refuses_an_unknown_source(ctx, model_id):
    with ctx.store.write() as conn, pytest.raises(InvalidInput, match="Unknown usage source"):
        usage.store(conn, model_id, [usage.validate(good())], "email", START)


def test_a_record_stored_meanwhile_by_another_request_counts_as_unchanged(ctx, model_id, monkeypatch):
    """PostgreSQL lets two requests race for a timestamp: the unique index refuses the loser's insert; it reads
    again and inserts the rest (simulated here: the first look misses a record another request stored)."""
    with ctx.store.write() as conn:
        usage.store(conn, model_id, [usage.validate(good())], "api", START)
    real, looks = usage._existing, []

    def first_look_misses(*args):
        looks.append(1)
        return {} if len(looks) == 1 else real(*args)

    monkeypatch.setattr(usage, "_existing", first_look_misses)
    batch = [usage.validate(good()), usage.validate(good(timestamp="2026-09-02"))]
    with ctx.store.write() as conn:
        assert usage.store(conn, model_id, batch, "api", START) == usage.Stored(1, 1, 0)
    assert len(looks) == 2 and [r["predictions"] for r in rows(ctx, model_id)] == [100, 100]


def test_the_timestamp_window_includes_its_first_and_last_instants():
    assert usage.validate(good(timestamp="2000-01-01T00:00:00Z")).at == datetime(2000, 1, 1, tzinfo=UTC)
    assert usage.validate(good(timestamp="2099-12-31T23:59:59Z")).at.year == 2099
    # 00:30 at +01:00 is 1999-12-31T23:30 UTC: the window is in UTC
    with pytest.raises(InvalidInput, match="outside 2000-01-01"):
        usage.validate(good(timestamp="2000-01-01T00:30:00+01:00"))


def test_a_csv_with_a_far_timestamp_and_a_huge_number_names_their_lines_and_stores_nothing():
    body = (HEADER + "2026-09-01T00:00:00Z,10,1,,,\n2611-03-23T12:00:00Z,10,1,,,\n"
            "2026-09-03T00:00:00Z,10," + "9" * 400 + ",,,\n")
    with pytest.raises(InvalidRecords) as caught:
        usage.parse_csv(body, LIMIT)
    assert caught.value.lines == (3, 4)
    assert "line 3, column timestamp: '2611-03-23T12:00:00Z' is outside" in str(caught.value)
    assert "line 4, column compute_hours:" in str(caught.value) and "is not a finite number" in str(caught.value)

"""The ``s3`` connector type against moto's S3 server on loopback (authentication on): CSV, Parquet
and prefixes of Parquet files stream with the local file's profile; wrong keys, a missing bucket and
an unreachable endpoint fail in plain words, in time, without the secret."""
from __future__ import annotations

import time

import pytest

from tests.support import connector_data
from tests.support.blackhole import silent_port
from vision_widgets.core import connectors
from vision_widgets.core.connectors import Entry
from vision_widgets.core.errors import ConnectorError, InvalidInput

S3 = connectors.type_of("s3")
ROWS = connector_data.SAMPLE_ROWS


@pytest.fixture(scope="module")
def bucket(moto_s3, sample_frame):
    s3 = moto_s3.client()
    s3.create_bucket(Bucket="models-data")

    def put(key, df, fmt):
        s3.put_object(Bucket="models-data", Key=key, Body=connector_data.encoded(df, fmt))

    put("churn/train.parquet", sample_frame, "parquet")
    put("churn/train.csv", sample_frame, "csv")
    for i, start in enumerate(range(0, ROWS, 5000)):
        put(f"churn/daily/day={i}/part-0.parquet", sample_frame.iloc[start:start + 5000], "parquet")
    put("elsewhere/x.parquet", sample_frame.head(10), "parquet")
    s3.put_object(Bucket="models-data", Key="churn/notes.txt", Body=b"not data")
    return "models-data"


def _connect(server, bucket, **more):
    config, secrets = server.config(bucket, **more)
    return S3.connect(None, config, secrets)


def test_browse_lists_folders_and_files_under_the_prefix(moto_s3, bucket):
    conn = _connect(moto_s3, bucket, prefix="churn")
    assert conn.browse() == [Entry("daily", "daily", "folder"), Entry("train.csv", "train.csv", "file"),
                             Entry("train.parquet", "train.parquet", "file")]
    assert [e.path for e in conn.browse("daily")][:2] == ["daily/day=0", "daily/day=1"]
    with pytest.raises(InvalidInput, match="outside what this connector reads"):
        conn.browse("../elsewhere")


def test_parquet_a_prefix_of_parquet_and_csv_profile_as_the_local_file(moto_s3, bucket, file_profile):
    conn = _connect(moto_s3, bucket, prefix="churn")
    assert connector_data.profile_of(conn.open("train.parquet")).to_dict() == file_profile.to_dict()
    assert connector_data.profile_of(conn.open("daily")).to_dict() == file_profile.to_dict()
    by_csv = connector_data.profile_of(conn.open("train.csv"))
    assert by_csv.rows == ROWS and by_csv.types() == file_profile.types()
    current = connector_data.profile_of(conn.open("daily/day=2"), reference=file_profile)
    assert current.rows == 5000


def test_test_shows_latency_and_a_sample(moto_s3, bucket):
    result = _connect(moto_s3, bucket, prefix="churn").test(timeout=10)
    assert result.ok and result.latency_ms > 0
    assert result.sample == ("daily", "train.csv", "train.parquet")


def test_wrong_credentials_are_refused_without_showing_the_secret(moto_s3, bucket):
    config, _ = moto_s3.config(bucket)
    wrong = "WrongSecretKey/abc123+xyz"
    conn = S3.connect(None, config, {"secret_access_key": wrong})
    result = conn.test(timeout=10)
    assert not result.ok and "refused the credentials" in result.message
    assert wrong not in result.message
    with pytest.raises(ConnectorError) as err:
        conn.open("churn/train.parquet")
    assert wrong not in str(err.value)


def test_a_missing_bucket_and_a_missing_file_are_named(moto_s3, bucket):
    result = _connect(moto_s3, "no-such-bucket").test(timeout=10)
    assert not result.ok and "no such bucket" in result.message
    with pytest.raises(ConnectorError, match="nothing at that name"):
        _connect(moto_s3, bucket).open("churn/nope.parquet")
    with pytest.raises(InvalidInput, match="not a CSV or Parquet"):
        _connect(moto_s3, bucket).open("churn/notes.txt")


def test_an_unreachable_endpoint_fails_within_the_timeout(moto_s3):
    with silent_port() as port:
        config, secrets = moto_s3.config("models-data", endpoint_url=f"http://127.0.0.1:{port}", timeout=1)
        conn = S3.connect(None, config, secrets)
        started = time.monotonic()
        result = conn.test(timeout=3)
        assert time.monotonic() - started < 5
        assert not result.ok and ("did not answer" in result.message or "could not be reached" in result.message)
        assert moto_s3.secret not in result.message


def test_the_settings_are_checked():
    with pytest.raises(InvalidInput) as err:
        S3.check({"bucket": "Bad_Bucket"}, {})
    assert err.value.field == "bucket"
    with pytest.raises(InvalidInput) as err:
        S3.check({"bucket": "ok-bucket", "endpoint_url": "http://me:pw@minio:9000"}, {})
    assert err.value.field == "endpoint_url"
    with pytest.raises(InvalidInput) as err:
        S3.check({"bucket": "ok-bucket", "access_key_id": "AKIA"}, {})
    assert err.value.field == "secret_access_key"
    config, secrets = S3.check({"bucket": "ok-bucket", "prefix": "/a/b/"}, {"session_token": "t"})
    assert config == {"bucket": "ok-bucket", "prefix": "a/b", "timeout": 10} and secrets == {"session_token": "t"}


def test_browsing_a_huge_prefix_reads_a_bounded_number_of_keys(moto_s3, monkeypatch):
    """Review 11b #11: browse listed the whole prefix (fs.ls pages through every key) and probed every
    folder for a _delta_log one by one; now at most MAX_LISTED keys are read, none cached as whole."""
    from concurrent.futures import ThreadPoolExecutor

    from vision_widgets.core.connectors import object_store as store

    s3 = moto_s3.client()
    s3.create_bucket(Bucket="huge")
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket="huge", Key=f"logs/f{i:05d}.csv", Body=b"a\n1\n"), range(1500)))
    monkeypatch.setattr(store, "MAX_LISTED", 1000)
    conn = _connect(moto_s3, "huge", prefix="logs")
    fs = conn.fs()
    monkeypatch.setattr(type(fs), "ls", lambda *a, **k: pytest.fail("the whole prefix was listed"))
    entries = conn.browse("", limit=5000)
    assert len(entries) == 1000 and entries[0].path == "f00000.csv"
    monkeypatch.undo()
    assert len(fs.ls("huge/logs", detail=False, refresh=True)) == 1500  # nothing partial was cached

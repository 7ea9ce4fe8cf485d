"""The ``delta`` connector type: Delta tables written by the tests with ``deltalake`` — in a local data
folder, in moto's S3 and in Azurite — browsed (tables marked), read batch by batch with the local
file's profile; a folder that is not a Delta table and wrong credentials get plain messages."""
from __future__ import annotations

import pytest
from deltalake import write_deltalake

from tests.support import connector_data
from vision_widgets.core import connectors
from vision_widgets.core.connectors import Entry
from vision_widgets.core.errors import ConnectorError, InvalidInput

DELTA = connectors.type_of("delta")
ROWS = connector_data.SAMPLE_ROWS


def test_a_local_delta_table_profiles_as_the_local_file(settings, sample_frame, file_profile):
    lake = settings.home / "data" / "lake"
    lake.mkdir(parents=True)
    write_deltalake(str(lake / "churn"), sample_frame)
    (lake / "plain").mkdir()
    conn = DELTA.connect(settings, {"location": "data/lake"}, {})
    assert conn.browse() == [Entry("churn", "churn", "delta"), Entry("plain", "plain", "folder")]
    result = conn.test()
    assert result.ok and result.sample == ("churn",)
    assert connector_data.profile_of(conn.open("churn")).to_dict() == file_profile.to_dict()
    # A new version (one more file) is read whole; files come in Delta's order, so compare totals.
    write_deltalake(str(lake / "churn"), sample_frame.iloc[:5000], mode="append")
    current = connector_data.profile_of(conn.open("churn"), reference=file_profile)
    assert current.rows == ROWS + 5000
    assert current.columns["plan"].count == ROWS + 5000
    with pytest.raises(InvalidInput, match="plain in the data folder data/lake is not a Delta table"):
        conn.open("plain")
    with pytest.raises(InvalidInput, match="outside"):
        conn.open("../../..")


def test_a_delta_table_on_s3_profiles_as_the_local_file(moto_s3, sample_frame, file_profile):
    moto_s3.client().create_bucket(Bucket="lake")
    options = {"AWS_ACCESS_KEY_ID": moto_s3.key_id, "AWS_SECRET_ACCESS_KEY": moto_s3.secret,
               "AWS_ENDPOINT_URL": moto_s3.endpoint, "AWS_REGION": moto_s3.region, "AWS_ALLOW_HTTP": "true",
               "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    write_deltalake("s3://lake/gold/churn", sample_frame, storage_options=options)
    moto_s3.client().put_object(Bucket="lake", Key="gold/notdelta/x.parquet", Body=b"x")
    config, secrets = moto_s3.config("lake")
    config = {k: v for k, v in config.items() if k != "bucket"} | {"location": "s3://lake/gold"}
    conn = DELTA.connect(None, config, secrets)
    assert conn.browse() == [Entry("churn", "churn", "delta"), Entry("notdelta", "notdelta", "folder")]
    assert conn.test().ok
    assert connector_data.profile_of(conn.open("churn")).to_dict() == file_profile.to_dict()
    with pytest.raises(InvalidInput, match="is not a Delta table"):
        conn.open("notdelta")
    wrong = DELTA.connect(None, config, {"secret_access_key": "NotTheSecret/123456"})
    with pytest.raises(ConnectorError) as err:
        wrong.open("churn")
    assert "NotTheSecret" not in str(err.value)


def test_a_delta_table_on_azurite_profiles_as_the_local_file(azurite, sample_frame, file_profile):
    azurite.service().create_container("lake")
    options = {"azure_storage_account_name": azurite.account, "azure_storage_account_key": azurite.key,
               "azure_storage_endpoint": azurite.endpoint, "azure_allow_http": "true"}
    write_deltalake("az://lake/gold/churn", sample_frame, storage_options=options)
    conn = DELTA.connect(None, {"location": "az://lake/gold", "account_name": azurite.account,
                                "azure_endpoint": azurite.endpoint}, {"account_key": azurite.key})
    assert conn.browse() == [Entry("churn", "churn", "delta")]
    assert connector_data.profile_of(conn.open("churn")).to_dict() == file_profile.to_dict()


def test_the_location_is_checked():
    for location in ("ftp://x/y", "s3://", "abfss://nope"):
        with pytest.raises(InvalidInput) as err:
            DELTA.check({"location": location}, {})
        assert err.value.field == "location"
    config, _ = DELTA.check({"location": "abfss://lake@acct01.dfs.core.windows.net/gold"}, {"account_key": "k"})
    assert config["account_name"] == "acct01"


# --- review 11b #1: a table's log may name files outside it; none is ever read ----------------------


def _rewrite_adds(table_dir, path_of):
    import json

    log = min((table_dir / "_delta_log").glob("*.json"))
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    for line in lines:
        if "add" in line:
            line["add"]["path"] = path_of(line["add"]["path"])
    log.write_text("\n".join(json.dumps(line) for line in lines))


@pytest.fixture
def escaping_lake(settings, tmp_path):
    """A lake under the data roots whose tables reach a secret outside them in every way the log allows."""
    import os

    import pandas as pd

    outside = tmp_path / "outside"
    outside.mkdir()
    pd.DataFrame({"secret": [1, 2, 3] * 5}).to_parquet(outside / "secret.parquet", index=False)
    lake = settings.home / "data" / "lake"
    lake.mkdir(parents=True)
    small = pd.DataFrame({"secret": [9] * 5, "part": ["a b:c"] * 5})
    for name in ("linked", "climbing", "absolute", "log_linked", "partitioned"):
        write_deltalake(str(lake / name), small, partition_by=["part"] if name == "partitioned" else None)
    data_file = next((lake / "linked").glob("*.parquet"))
    data_file.unlink()
    os.symlink(outside / "secret.parquet", data_file)
    rel = os.path.relpath(outside / "secret.parquet", lake / "climbing")
    _rewrite_adds(lake / "climbing", lambda _: rel)
    _rewrite_adds(lake / "absolute", lambda _: (outside / "secret.parquet").as_uri())
    os.rename(lake / "log_linked" / "_delta_log", outside / "_delta_log")
    os.symlink(outside / "_delta_log", lake / "log_linked" / "_delta_log")
    return DELTA.connect(settings, {"location": "data/lake"}, {})


@pytest.mark.parametrize("table", ["linked", "climbing", "absolute", "log_linked"])
def test_a_local_delta_table_naming_files_outside_the_roots_is_refused_whole(escaping_lake, table):
    with pytest.raises(InvalidInput, match="outside its own folder") as err:
        escaping_lake.open(table).read_all()
    assert err.value.field == "path"


def test_a_partitioned_local_delta_table_inside_the_roots_is_still_read(escaping_lake):
    # partition folders ("part=a%20b%3Ac/…", escaped) are inside the table: not mistaken for an escape
    assert escaping_lake.open("partitioned").read_all().num_rows == 5


def test_a_delta_table_on_s3_whose_log_climbs_out_of_the_location_is_refused(moto_s3, sample_frame, tmp_path):
    moto_s3.client().create_bucket(Bucket="lake")
    moto_s3.client().put_object(Bucket="lake", Key="private/secret.parquet", Body=b"not for you")
    local = tmp_path / "t"
    write_deltalake(str(local), sample_frame.head(10))
    _rewrite_adds(local, lambda _: "../../private/secret.parquet")
    for f in local.rglob("*"):
        if f.is_file():
            moto_s3.client().put_object(Bucket="lake", Key=f"gold/t/{f.relative_to(local).as_posix()}",
                                        Body=f.read_bytes())
    config, secrets = moto_s3.config("lake")
    config = {k: v for k, v in config.items() if k != "bucket"} | {"location": "s3://lake/gold"}
    conn = DELTA.connect(None, config, secrets)
    with pytest.raises(InvalidInput, match="outside its own folder"):
        conn.open("t").read_all()


def test_a_local_delta_connection_rewords_server_paths(escaping_lake, settings):
    real = (settings.home / "data").resolve()
    assert connectors.reword(f"{real}/lake/t/part-0.parquet is broken", escaping_lake) == \
        "data/lake/t/part-0.parquet is broken"

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
ROWS = 20_000


@pytest.fixture(scope="module")
def frame():
    return connector_data.frame(ROWS)


@pytest.fixture(scope="module")
def file_profile(frame, tmp_path_factory):
    path = tmp_path_factory.mktemp("local") / "data.parquet"
    frame.to_parquet(path, index=False)
    return connector_data.profile_of(path)


def test_a_local_delta_table_profiles_as_the_local_file(settings, frame, file_profile):
    lake = settings.home / "data" / "lake"
    lake.mkdir(parents=True)
    write_deltalake(str(lake / "churn"), frame)
    (lake / "plain").mkdir()
    conn = DELTA.connect(settings, {"location": "data/lake"}, {})
    assert conn.browse() == [Entry("churn", "churn", "delta"), Entry("plain", "plain", "folder")]
    result = conn.test()
    assert result.ok and result.sample == ("churn",)
    assert connector_data.profile_of(conn.open("churn")).to_dict() == file_profile.to_dict()
    # A new version (one more file) is read whole; files come in Delta's order, so compare totals.
    write_deltalake(str(lake / "churn"), frame.iloc[:5000], mode="append")
    current = connector_data.profile_of(conn.open("churn"), reference=file_profile)
    assert current.rows == ROWS + 5000
    assert current.columns["plan"].count == ROWS + 5000
    with pytest.raises(InvalidInput, match="plain in the data folder data/lake is not a Delta table"):
        conn.open("plain")
    with pytest.raises(InvalidInput, match="outside"):
        conn.open("../../..")


def test_a_delta_table_on_s3_profiles_as_the_local_file(moto_s3, frame, file_profile):
    moto_s3.client().create_bucket(Bucket="lake")
    options = {"AWS_ACCESS_KEY_ID": moto_s3.key_id, "AWS_SECRET_ACCESS_KEY": moto_s3.secret,
               "AWS_ENDPOINT_URL": moto_s3.endpoint, "AWS_REGION": moto_s3.region, "AWS_ALLOW_HTTP": "true",
               "AWS_S3_ALLOW_UNSAFE_RENAME": "true"}
    write_deltalake("s3://lake/gold/churn", frame, storage_options=options)
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


def test_a_delta_table_on_azurite_profiles_as_the_local_file(azurite, frame, file_profile):
    azurite.service().create_container("lake")
    options = {"azure_storage_account_name": azurite.account, "azure_storage_account_key": azurite.key,
               "azure_storage_endpoint": azurite.endpoint, "azure_allow_http": "true"}
    write_deltalake("az://lake/gold/churn", frame, storage_options=options)
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

"""The ``azure_blob`` connector type against Azurite (the Azure Storage emulator) on loopback:
Parquet, folders of Parquet and CSV stream with the local file's profile; a wrong key, a missing
container and an unreachable endpoint fail in plain words, in time, without the secret."""
from __future__ import annotations

import time

import pytest

from tests.support import connector_data
from tests.support.blackhole import silent_port
from vision_widgets.core import connectors
from vision_widgets.core.connectors import Entry
from vision_widgets.core.errors import ConnectorError, InvalidInput

AZ = connectors.type_of("azure_blob")
ROWS = connector_data.SAMPLE_ROWS


@pytest.fixture(scope="module")
def container(azurite, sample_frame):
    service = azurite.service()
    box = service.create_container("models")

    def put(name, df, fmt):
        box.upload_blob(name, connector_data.encoded(df, fmt), overwrite=True)

    put("churn/train.parquet", sample_frame, "parquet")
    put("churn/train.csv", sample_frame, "csv")
    for i, start in enumerate(range(0, ROWS, 5000)):
        put(f"churn/daily/part-{i}.parquet", sample_frame.iloc[start:start + 5000], "parquet")
    return "models"


def _connect(server, container, **more):
    config, secrets = server.config(container, **more)
    return AZ.connect(None, config, secrets)


def test_browse_lists_folders_and_files_under_the_path(azurite, container):
    conn = _connect(azurite, container, path="churn")
    assert conn.browse() == [Entry("daily", "daily", "folder"), Entry("train.csv", "train.csv", "file"),
                             Entry("train.parquet", "train.parquet", "file")]
    with pytest.raises(InvalidInput, match="outside what this connector reads"):
        conn.open("../../etc")


def test_parquet_a_folder_and_csv_profile_as_the_local_file(azurite, container, file_profile):
    conn = _connect(azurite, container)
    assert connector_data.profile_of(conn.open("churn/train.parquet")).to_dict() == file_profile.to_dict()
    assert connector_data.profile_of(conn.open("churn/daily")).to_dict() == file_profile.to_dict()
    by_csv = connector_data.profile_of(conn.open("churn/train.csv"))
    assert by_csv.rows == ROWS and by_csv.types() == file_profile.types()


def test_a_connection_string_works_too_and_test_shows_a_sample(azurite, container):
    conn = AZ.connect(None, {"container": container, "path": "churn"}, {"connection_string": azurite.connection_string()})
    result = conn.test(timeout=10)
    assert result.ok and result.latency_ms > 0 and result.sample == ("daily", "train.csv", "train.parquet")


def test_a_wrong_key_is_refused_without_showing_it(azurite, container):
    config, _ = azurite.config(container)
    wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleQ=="
    conn = AZ.connect(None, config, {"account_key": wrong})
    result = conn.test(timeout=10)
    assert not result.ok and "refused the credentials" in result.message
    assert wrong not in result.message and wrong[:20] not in result.message
    with pytest.raises(ConnectorError) as err:
        conn.open("churn/train.parquet")
    assert wrong[:20] not in str(err.value)


def test_a_missing_container_is_named(azurite, container):
    result = _connect(azurite, "no-such-container").test(timeout=10)
    assert not result.ok and "does not exist" in result.message and "no-such-container" in result.message


def test_an_unreachable_endpoint_fails_within_the_timeout(azurite):
    with silent_port() as port:
        config, secrets = azurite.config("models", endpoint=f"http://127.0.0.1:{port}/devstoreaccount1", timeout=1)
        started = time.monotonic()
        result = AZ.connect(None, config, secrets).test(timeout=3)
        assert time.monotonic() - started < 5
        assert not result.ok and azurite.key not in result.message and azurite.key[:20] not in result.message


def test_the_settings_are_checked():
    with pytest.raises(InvalidInput) as err:
        AZ.check({"account_name": "acct", "container": "c1x"}, {"account_key": "k", "sas_token": "s"})
    assert err.value.field == "sas_token"
    with pytest.raises(InvalidInput) as err:
        AZ.check({"container": "data"}, {"account_key": "k"})
    assert err.value.field == "account_name"
    with pytest.raises(InvalidInput) as err:
        AZ.check({"account_name": "acct", "container": "Bad_Name"}, {})
    assert err.value.field == "container"
    config, secrets = AZ.check({"account_name": "acct", "container": "data"}, {"sas_token": "?sv=1&sig=abc"})
    assert secrets == {"sas_token": "sv=1&sig=abc"} and config["timeout"] == 10

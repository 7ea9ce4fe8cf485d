"""Connector failure messages: plain words naming what to check, and never a secret — even when
the library's own exception text carries one (a URL with a password, a connection string, a SAS
token, a signature)."""
from __future__ import annotations

import time

import pytest

from vision_widgets.core.connectors.failures import connector_error, kind_of, scrub, within
from vision_widgets.core.errors import ConnectorError

PASSWORD = "pa$$:w0rd/Secret"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
SAS = "sv=2022-11-02&ss=b&srt=co&sp=rl&se=2030-01-01&sig=AbCdEf0123456789%2BxYz%3D"


class OperationalError(Exception):
    """Named like SQLAlchemy's, which puts the URL in its text."""


class ClientAuthenticationError(Exception):
    """Named like azure-core's."""


LIBRARY_TEXTS = [
    (OperationalError(f"(psycopg.OperationalError) connection to postgresql://reader:{PASSWORD}@db:5432/x failed: "
                      "Connection refused"), [PASSWORD], "could not be reached"),
    (OperationalError("could not connect: postgresql://reader:pa%24%24%3Aw0rd%2FSecret@db:5432/x"), [PASSWORD],
     "could not be reached"),
    (ClientAuthenticationError(f"Server failed to authenticate the request. DefaultEndpointsProtocol=https;"
                               f"AccountName=acct;AccountKey={KEY};EndpointSuffix=core.windows.net"), [KEY],
     "refused the credentials"),
    (PermissionError(f"403 Forbidden for https://acct.blob.core.windows.net/c/x.parquet?{SAS}"), [SAS],
     "refused the credentials"),
    (Exception("SignatureDoesNotMatch: Authorization: AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/20260101, "
               "Signature=0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"), [],
     "refused the credentials"),
    (TimeoutError(f"timed out talking to https://user:{PASSWORD}@h"), [], "did not answer in time"),
]


@pytest.mark.parametrize("exc, secrets, says", LIBRARY_TEXTS)
def test_a_library_error_becomes_plain_words_without_the_secret(exc, secrets, says):
    err = connector_error(exc, "The source", secrets)
    text = str(err)
    assert isinstance(err, ConnectorError) and text.startswith("The source ") and says in text
    for secret in (PASSWORD, KEY, SAS, "pa%24%24", "sig=AbCdEf", KEY[:24], "0f1e2d3c4b5a6978"):
        assert secret not in text


def test_scrub_keeps_what_helps_and_cuts_what_is_secret():
    text = scrub(f"no such table: churn (url sqlite:///x.db) password={PASSWORD} token: abc123", [PASSWORD])
    assert "no such table: churn" in text and "sqlite:///x.db" in text
    assert PASSWORD not in text and "abc123" not in text


def test_unknown_failures_still_say_what_failed():
    assert kind_of(ValueError("weird")) is None
    assert str(connector_error(ValueError("weird"), "The bucket b")) == "The bucket b could not be read. (The source said: weird)"


def test_within_gives_up_on_a_call_that_hangs():
    started = time.monotonic()
    with pytest.raises(ConnectorError, match="did not answer within 0.5 s"):
        within(0.5, lambda: time.sleep(5), "The warehouse")
    assert time.monotonic() - started < 2
    with pytest.raises(ConnectorError, match="refused the credentials") as err:
        within(1, lambda: (_ for _ in ()).throw(PermissionError(f"denied for key {KEY}")), "The bucket", [KEY])
    assert KEY not in str(err.value)
    assert within(1, lambda: 42, "x") == 42

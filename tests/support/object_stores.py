"""Real object-store servers on loopback for the connector tests, started per session, stopped after.

``moto_s3``  moto's S3 (and IAM) in server mode, *with authentication on*: only the access key the
             fixture creates (for an IAM user allowed s3:*) is accepted, so wrong credentials are
             refused as by AWS.
``azurite``  the Azure Storage emulator's Blob service (``azurite-blob`` from npm, installed under the
             venv by ``make azurite``), in a temporary folder, with its well-known dev account.
"""
from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server_process import free_port, stop_process


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    key_id: str
    secret: str
    region: str = "us-east-1"

    def config(self, bucket: str, **more) -> tuple[dict, dict]:
        """(config, secrets) of an ``s3`` connector for ``bucket`` on this server."""
        return ({"bucket": bucket, "endpoint_url": self.endpoint, "region": self.region,
                 "access_key_id": self.key_id, **more}, {"secret_access_key": self.secret})

    def client(self):
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.key_id, aws_secret_access_key=self.secret)


def _wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


@pytest.fixture(scope="session")
def moto_s3():
    import boto3
    from moto import settings as moto_settings
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    previous = moto_settings.INITIAL_NO_AUTH_ACTION_COUNT
    moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")  # setting up needs no keys
    user = f"reader-{port}"
    try:
        iam = boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="setup", aws_secret_access_key="setup")
        iam.create_user(UserName=user)
        iam.put_user_policy(UserName=user, PolicyName="s3", PolicyDocument=json.dumps({
            "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        # From now on every request must be signed with a key the server knows.
        req = urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=b"0", method="POST",
                                     headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(req, timeout=10).read()  # noqa: S310 - loopback
        yield S3Server(endpoint=endpoint, key_id=key["AccessKeyId"], secret=key["SecretAccessKey"])
    finally:
        moto_settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        server.stop()


def azurite_binary() -> Path:
    return Path(sys.prefix) / "node" / "node_modules" / ".bin" / "azurite-blob"


#: Azurite's documented development account (public, the same in every installation).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


@dataclass(frozen=True)
class AzuriteServer:
    endpoint: str
    account: str = AZURITE_ACCOUNT
    key: str = AZURITE_KEY

    def config(self, container: str, **more) -> tuple[dict, dict]:
        """(config, secrets) of an ``azure_blob`` connector for ``container`` on this emulator."""
        return ({"account_name": self.account, "container": container, "endpoint": self.endpoint, **more},
                {"account_key": self.key})

    def connection_string(self) -> str:
        return (f"DefaultEndpointsProtocol=http;AccountName={self.account};AccountKey={self.key};"
                f"BlobEndpoint={self.endpoint};")

    def service(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())


@pytest.fixture(scope="session")
def azurite():
    binary = azurite_binary()
    if not binary.exists():
        pytest.skip("Azurite is not installed (make azurite)")
    folder = Path(tempfile.mkdtemp(prefix="vision-azurite-"))
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "--blobHost", "127.0.0.1", "--blobPort", str(port), "--location", str(folder), "--silent",
         "--skipApiVersionCheck", "--loose"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        _wait_for_port(port)
        yield AzuriteServer(endpoint=f"http://127.0.0.1:{port}/{AZURITE_ACCOUNT}")
    finally:
        stop_process(proc, grace=10)
        shutil.rmtree(folder, ignore_errors=True)

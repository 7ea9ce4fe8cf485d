"""The S3 connector: CSV and Parquet files, and prefixes of Parquet files, in an S3-compatible bucket.

Any S3-compatible store (AWS, MinIO, Ceph, …) through ``s3fs``: a bucket, an optional prefix (the
connector sees only what is under it), an endpoint URL for stores other than AWS, a region, and
credentials (the secret key and a session token are secrets; without keys the default AWS chain
applies — instance roles and the like). Every request is bounded by ``timeout`` (connect and read,
one attempt), and calls that may list much are bounded as a whole too.
"""
from __future__ import annotations

from typing import Any, Mapping
from urllib.parse import urlsplit

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import Field, check_fields, register_type
from vision_widgets.core.connectors import object_store as store
from vision_widgets.core.errors import InvalidInput

_BUCKET_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789.-")


def s3_fields(prefix_help: str = "Only what is under this prefix is seen (empty: the whole bucket).") -> tuple[Field, ...]:
    return (
        Field("bucket", "Bucket", "The bucket's name.", required=True),
        Field("prefix", "Prefix", prefix_help),
        Field("endpoint_url", "Endpoint URL", "For S3-compatible stores other than AWS (MinIO, Ceph…), e.g. "
              "https://minio.example.com:9000; empty for AWS."),
        Field("region", "Region", "e.g. eu-west-1 (empty: the default)."),
        Field("access_key_id", "Access key ID", "Empty: the server's own AWS credentials (instance role…)."),
        Field("secret_access_key", "Secret access key", secret=True),
        Field("session_token", "Session token", "Only for temporary credentials.", secret=True),
        Field("timeout", "Timeout (s)", "Seconds to wait for the store to answer.", kind="int", default=10),
    )


def check_s3(fields: tuple[Field, ...], config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
    """The S3 settings checked: bucket name rules, an http(s) endpoint, keys given in pairs."""
    out, hidden = check_fields(fields, config, secrets)
    bucket = out.get("bucket", "")
    if bucket and (not 3 <= len(bucket) <= 63 or set(bucket) - _BUCKET_CHARS or bucket[0] in ".-" or bucket[-1] in ".-"):
        raise InvalidInput("A bucket name has 3 to 63 lower-case letters, digits, dots and hyphens.", field="bucket")
    endpoint = out.get("endpoint_url")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password:
            raise InvalidInput("The endpoint URL must be an http(s) address without credentials, e.g. "
                               "https://minio.example.com:9000.", field="endpoint_url")
    if bool(out.get("access_key_id")) != bool(hidden.get("secret_access_key")):
        missing = "secret_access_key" if out.get("access_key_id") else "access_key_id"
        raise InvalidInput("Give the access key ID and the secret access key together (or neither).", field=missing)
    if not 1 <= out.get("timeout", 10) <= 600:
        raise InvalidInput("The timeout must be between 1 and 600 seconds.", field="timeout")
    if out.get("prefix"):
        out["prefix"] = out["prefix"].strip("/")
    return out, hidden


def s3_filesystem(config: Mapping[str, Any], secrets: Mapping[str, str]):
    """An ``s3fs.S3FileSystem`` for these settings: no instance cache, one attempt, bounded waits."""
    import s3fs

    timeout = int(config.get("timeout") or 10)
    client_kwargs: dict[str, Any] = {}
    if config.get("endpoint_url"):
        client_kwargs["endpoint_url"] = config["endpoint_url"]
    if config.get("region"):
        client_kwargs["region_name"] = config["region"]
    keys: dict[str, Any] = {}
    if config.get("access_key_id"):
        keys = {"key": config["access_key_id"], "secret": secrets.get("secret_access_key"),
                "token": secrets.get("session_token") or None}
    return s3fs.S3FileSystem(
        **keys, client_kwargs=client_kwargs, skip_instance_cache=True, use_listings_cache=False,
        config_kwargs={"connect_timeout": timeout, "read_timeout": timeout, "retries": {"max_attempts": 1}},
    )


@register_type
class S3Type:
    """S3-compatible object storage (s3fs)."""

    type = "s3"
    title = "S3 object storage"
    fields = s3_fields()

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        return check_s3(self.fields, config, secrets)

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> "S3Connection":
        config, secrets = self.check(config, secrets)
        return S3Connection(config=config, secrets=secrets)


class S3Connection(store.StoreConnection):
    """A bucket (and prefix) of an S3-compatible store."""

    @property
    def root(self) -> str:
        return "/".join(p for p in (self.config["bucket"], self.config.get("prefix", "")) if p)

    def where(self) -> str:
        endpoint = self.config.get("endpoint_url")
        host = f" at {urlsplit(endpoint).netloc}" if endpoint else ""
        return f"the bucket {self.config['bucket']}{host}"

    def make_fs(self) -> Any:
        return s3_filesystem(self.config, self.secrets)

"""The Azure Blob / ADLS Gen2 connector: CSV and Parquet files, and folders of Parquet files, in a container.

Through ``adlfs``: an account, a container, an optional path inside it (the connector sees only what
is under it), and one credential — the account key, a SAS token or a connection string (all three
secrets); none reads a public container anonymously. ``endpoint`` points at a non-Azure endpoint
(Azurite, the emulator, or a sovereign cloud): with it the account key or SAS is used through a
connection string built here. Requests are bounded by ``timeout`` (connect and read).
"""
from __future__ import annotations

import re
from typing import Any, Mapping
from urllib.parse import urlsplit

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import Field, check_fields, register_type
from vision_widgets.core.connectors import object_store as store
from vision_widgets.core.errors import ConnectorError, InvalidInput

_ACCOUNT = re.compile(r"^[a-z0-9]{3,24}$")
_CONTAINER = re.compile(r"^(\$root|[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9])$")
CREDENTIALS = ("account_key", "sas_token", "connection_string")


def azure_fields(path_help: str = "Only what is under this folder is seen (empty: the whole container).") -> tuple[Field, ...]:
    return (
        Field("account_name", "Storage account", "The storage account's name (not needed with a connection string)."),
        Field("container", "Container", "The container (ADLS Gen2: the file system).", required=True),
        Field("path", "Folder", path_help),
        Field("endpoint", "Blob endpoint", "Only for a non-Azure endpoint, e.g. Azurite's http://127.0.0.1:10000/devstoreaccount1."),
        Field("account_key", "Account key", "One credential: the account key, a SAS token or a connection string.", secret=True),
        Field("sas_token", "SAS token", secret=True),
        Field("connection_string", "Connection string", secret=True),
        Field("timeout", "Timeout (s)", "Seconds to wait for the store to answer.", kind="int", default=10),
    )


def check_azure(fields: tuple[Field, ...], config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
    """The Azure settings checked: names by Azure's rules, one credential at most, an http(s) endpoint."""
    out, hidden = check_fields(fields, config, secrets)
    given = [name for name in CREDENTIALS if hidden.get(name)]
    if len(given) > 1:
        raise InvalidInput("Give one credential: the account key, a SAS token or a connection string.", field=given[1])
    if not hidden.get("connection_string"):
        if not out.get("account_name"):
            raise InvalidInput("Storage account is required (or give a connection string).", field="account_name")
        if not _ACCOUNT.match(out["account_name"]):
            raise InvalidInput("A storage account name has 3 to 24 lower-case letters and digits.", field="account_name")
    if "container" in out and not _CONTAINER.match(out["container"]):
        raise InvalidInput("A container name has 3 to 63 lower-case letters, digits and single hyphens.", field="container")
    endpoint = out.get("endpoint")
    if endpoint:
        parts = urlsplit(endpoint)
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.username or parts.password or parts.query:
            raise InvalidInput("The blob endpoint must be an http(s) address without credentials or query.", field="endpoint")
        out["endpoint"] = endpoint.rstrip("/")
    if "sas_token" in hidden:
        hidden["sas_token"] = hidden["sas_token"].lstrip("?")
    if not 1 <= out.get("timeout", 10) <= 600:
        raise InvalidInput("The timeout must be between 1 and 600 seconds.", field="timeout")
    if out.get("path"):
        out["path"] = out["path"].strip("/")
    return out, hidden


def azure_options(config: Mapping[str, Any], secrets: Mapping[str, str]) -> dict[str, Any]:
    """The credential options for adlfs (and, renamed, for deltalake's object store)."""
    endpoint = config.get("endpoint")
    if secrets.get("connection_string"):
        return {"connection_string": secrets["connection_string"]}
    if endpoint and (secrets.get("account_key") or secrets.get("sas_token")):
        scheme = urlsplit(endpoint).scheme
        parts = [f"DefaultEndpointsProtocol={scheme}", f"AccountName={config['account_name']}"]
        parts.append(f"AccountKey={secrets['account_key']}" if secrets.get("account_key")
                     else f"SharedAccessSignature={secrets['sas_token']}")
        parts.append(f"BlobEndpoint={endpoint}")
        return {"connection_string": ";".join(parts) + ";"}
    options: dict[str, Any] = {"account_name": config.get("account_name")}
    if secrets.get("account_key"):
        options["account_key"] = secrets["account_key"]
    elif secrets.get("sas_token"):
        options["sas_token"] = secrets["sas_token"]
    else:
        options["anon"] = True
    if endpoint:
        options["account_host"] = urlsplit(endpoint).netloc
    return options


def azure_filesystem(config: Mapping[str, Any], secrets: Mapping[str, str]):
    """An ``adlfs.AzureBlobFileSystem`` for these settings: no instance cache, bounded waits."""
    import adlfs

    timeout = int(config.get("timeout") or 10)
    return adlfs.AzureBlobFileSystem(**azure_options(config, secrets), skip_instance_cache=True,
                                     use_listings_cache=False, connection_timeout=timeout, read_timeout=timeout,
                                     retry_total=0)


@register_type
class AzureBlobType:
    """Azure Blob Storage / ADLS Gen2 (adlfs)."""

    type = "azure_blob"
    title = "Azure Blob / ADLS Gen2"
    fields = azure_fields()

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        return check_azure(self.fields, config, secrets)

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> "AzureBlobConnection":
        config, secrets = self.check(config, secrets)
        return AzureBlobConnection(config=config, secrets=secrets)


def _secret_values(secrets: Mapping[str, str]) -> list[str]:
    """The secrets, and the pieces of a connection string that are secret on their own."""
    values = [v for v in secrets.values() if v]
    for text in list(values):
        for part in text.split(";"):
            key, _, value = part.partition("=")
            if key.strip().lower() in ("accountkey", "sharedaccesssignature") and value:
                values.append(value.strip())
    return values


class AzureBlobConnection(store.StoreConnection):
    """A container (and folder) of an Azure storage account."""

    @property
    def root(self) -> str:
        return "/".join(p for p in (self.config["container"], self.config.get("path", "")) if p)

    def where(self) -> str:
        account = self.config.get("account_name") or "the account of the connection string"
        return f"the container {self.config['container']} of {account}"

    def make_fs(self) -> Any:
        return azure_filesystem(self.config, self.secrets)

    def secret_values(self) -> list[str]:
        return _secret_values(self.secrets)

    def check_root(self) -> None:
        if not self.fs().exists(self.config["container"]):
            raise ConnectorError(f"{self._where_capitalised()} does not exist (or these credentials cannot see it); "
                                 "check the container's name.")


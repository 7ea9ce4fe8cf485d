"""The Delta Lake connector: Delta tables read directly from their storage location (``deltalake``).

The connector's ``location`` is where tables live: a folder under the server's allowed data roots
(``data/lake``), an S3 URI (``s3://bucket/prefix``, with the S3 settings) or an Azure one
(``az://container/path`` or ``abfss://container@account.dfs.core.windows.net/path``, with the Azure
settings). ``browse`` lists the folders under it and marks the Delta tables (those with a
``_delta_log``); ``open`` reads a table's current version with
``DeltaTable(...).to_pyarrow_dataset()`` batch by batch. A folder that is not a Delta table gets a
plain message. Databricks writes its tables this way, so this reads them without a warehouse.

A table's data files are the ones its ``_delta_log`` names, and the log is data, not something the
connector's location vouches for: an ``add.path`` may be absolute (``file:///etc/…``, a shallow
clone's ``s3://other-bucket/…``) or climb out with ``..``, and in a local folder a data file (or
``_delta_log`` itself) may be a symlink leading out of the data roots. So before a table is read
every file it names is checked (``_check_files``): absolute paths and ``..`` are refused, and
locally each file and the log are resolved with every link followed and must lie under the roots.
A table that fails is refused whole, never read in part.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

from vision_widgets.core.config import Settings
from vision_widgets.core.connectors import Entry, Field, TestResult, check_fields, register_type
from vision_widgets.core.connectors import object_store as store
from vision_widgets.core.connectors.azure_blob import azure_fields, azure_filesystem, azure_options
from vision_widgets.core.connectors.failures import connector_error, timed_test, within
from vision_widgets.core.connectors.s3 import s3_fields, s3_filesystem
from vision_widgets.core.errors import ConnectorError, InvalidInput

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")  # an absolute URI (file:, s3:, abfss:, C:)
_ABFS = re.compile(r"^abfss?://(?P<container>[^@/]+)@(?P<account>[a-z0-9]{3,24})\.dfs\.[^/]+(?P<path>/.*)?$")

# The S3 and Azure settings, minus where (``location`` says it), each field once.
_S3 = tuple(f for f in s3_fields() if f.name not in ("bucket", "prefix", "timeout"))
_AZ = tuple(f for f in azure_fields() if f.name not in ("container", "path", "endpoint", "timeout"))
_AZ_ENDPOINT = Field("azure_endpoint", "Azure blob endpoint", "Only for a non-Azure endpoint (Azurite).")


def parse_location(location: str) -> tuple[str, str, str]:
    """(scheme, container-or-bucket, path) of ``location``: scheme is ``local``, ``s3`` or ``az``."""
    location = (location or "").strip()
    if "\x00" in location:
        raise InvalidInput("The location is not usable text.", field="location")
    if location.startswith("s3://") or location.startswith("s3a://"):
        parts = urlsplit(location)
        if not parts.netloc:
            raise InvalidInput("An S3 location is s3://bucket/path.", field="location")
        return "s3", parts.netloc, parts.path.strip("/")
    if location.startswith(("abfs://", "abfss://")):
        m = _ABFS.match(location)
        if not m:
            raise InvalidInput("An ADLS location is abfss://container@account.dfs.core.windows.net/path.", field="location")
        return "az", m.group("container"), (m.group("path") or "").strip("/")
    if location.startswith(("az://", "azure://")):
        parts = urlsplit(location)
        if not parts.netloc:
            raise InvalidInput("An Azure location is az://container/path.", field="location")
        return "az", parts.netloc, parts.path.strip("/")
    if "://" in location:
        raise InvalidInput("The location is a folder under the data roots (data/lake), s3://bucket/path or "
                           "az://container/path.", field="location")
    return "local", "", location.strip("/")


@register_type
class DeltaType:
    """Delta Lake tables at a storage location (local, S3 or Azure)."""

    type = "delta"
    title = "Delta Lake tables (Databricks)"
    fields = (
        Field("location", "Location", "Where the tables are: a data folder (data/lake), s3://bucket/path, "
              "az://container/path or abfss://container@account.dfs.core.windows.net/path.", required=True),
        *_S3,
        *(Field(f.name, f.label, f.help, f.kind, f.secret, False, f.choices, f.default) for f in _AZ),
        _AZ_ENDPOINT,
        Field("timeout", "Timeout (s)", "Seconds to wait for the store to answer.", kind="int", default=10),
    )

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        out, hidden = check_fields(self.fields, config, secrets)
        scheme, container, _ = parse_location(out["location"])
        if scheme == "s3":
            from vision_widgets.core.connectors.s3 import check_s3

            s3_part = {k: v for k, v in out.items() if k in {f.name for f in _S3} | {"timeout"}}
            check_s3(s3_fields(), {"bucket": container, **s3_part},
                     {k: v for k, v in hidden.items() if k in ("secret_access_key", "session_token")})
        elif scheme == "az":
            from vision_widgets.core.connectors.azure_blob import check_azure

            account = out.get("account_name") or (_ABFS.match(out["location"]).group("account")
                                                  if _ABFS.match(out["location"]) else None)
            if account:
                out["account_name"] = account
            az_part = {k: v for k, v in out.items() if k in ("account_name", "timeout")}
            if out.get("azure_endpoint"):
                az_part["endpoint"] = out["azure_endpoint"]
            check_azure(azure_fields(), {"container": container, **az_part},
                        {k: v for k, v in hidden.items() if k in ("account_key", "sas_token", "connection_string")})
        if not 1 <= out.get("timeout", 10) <= 600:
            raise InvalidInput("The timeout must be between 1 and 600 seconds.", field="timeout")
        return out, hidden

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> "DeltaConnection":
        config, secrets = self.check(config, secrets)
        return DeltaConnection(settings=settings, config=config, secrets=secrets)


@dataclass
class DeltaConnection:
    """The Delta tables under one location."""

    settings: Settings
    config: dict
    secrets: dict = field(repr=False)
    _fs: Any = field(default=None, repr=False)

    @property
    def scheme(self) -> str:
        return parse_location(self.config["location"])[0]

    @property
    def timeout(self) -> float:
        return float(self.config.get("timeout") or 10)

    def where(self) -> str:
        scheme, container, path = parse_location(self.config["location"])
        if scheme == "local":
            return f"the data folder {path}"
        kind = "bucket" if scheme == "s3" else "container"
        return f"the {kind} {container}" + (f" (under {path})" if path else "")

    def _secret_values(self) -> list[str]:
        from vision_widgets.core.connectors.azure_blob import _secret_values

        return _secret_values(self.secrets)

    def _error(self, exc: BaseException, what: str) -> ConnectorError:
        return connector_error(exc, what, self._secret_values())

    # -- where things are -------------------------------------------------------------------

    def _s3_config(self) -> dict:
        _, bucket, _ = parse_location(self.config["location"])
        return {**{k: v for k, v in self.config.items() if k in {f.name for f in _S3}}, "bucket": bucket,
                "timeout": self.config.get("timeout", 10)}

    def _az_config(self) -> dict:
        _, container, _ = parse_location(self.config["location"])
        out = {"container": container, "account_name": self.config.get("account_name"),
               "timeout": self.config.get("timeout", 10)}
        if self.config.get("azure_endpoint"):
            out["endpoint"] = self.config["azure_endpoint"].rstrip("/")
        return out

    def fs(self):
        """The fsspec filesystem of an S3 or Azure location (browsing)."""
        if self._fs is None:
            if self.scheme == "s3":
                self._fs = s3_filesystem(self._s3_config(), self.secrets)
            else:
                self._fs = azure_filesystem(self._az_config(), self.secrets)
        return self._fs

    def _root(self) -> str:
        _, container, path = parse_location(self.config["location"])
        return "/".join(p for p in (container, path) if p)

    def _table_uri(self, reference: str) -> str:
        """The URI deltalake opens for the table at ``reference`` (relative to the location)."""
        if self.scheme == "local":
            from vision_widgets.core.connectors.local import _locate

            _, _, base = parse_location(self.config["location"])
            rel = store.inside(base, reference) if base else (reference or "").strip("/")
            real, ref = _locate(self.settings, rel, what="folder")
            if not real.is_dir():
                raise InvalidInput(f"{ref} is not a folder; give the folder of a Delta table.", field="path")
            return str(real)
        full = store.inside(self._root(), reference)
        return f"s3://{full}" if self.scheme == "s3" else f"az://{full}"

    def _arrow_fs(self, reference: str):
        """A pyarrow filesystem rooted at the table, for reading its data files in ranges: deltalake's
        own handler reads each file whole into memory (over 1 GiB at 5 M rows)."""
        from pyarrow import fs as pa_fs

        uri = self._table_uri(reference)
        if self.scheme == "local":
            return pa_fs.SubTreeFileSystem(uri, pa_fs.LocalFileSystem())
        return pa_fs.SubTreeFileSystem(uri.split("://", 1)[1], pa_fs.PyFileSystem(pa_fs.FSSpecHandler(self.fs())))

    def storage_options(self) -> dict[str, str]:
        """deltalake's (object_store's) options for the location's credentials and timeouts."""
        timeout = f"{int(self.timeout)}s"
        opts: dict[str, str] = {"timeout": timeout, "connect_timeout": timeout}
        if self.scheme == "s3":
            c = self.config
            if c.get("access_key_id"):
                opts["AWS_ACCESS_KEY_ID"] = c["access_key_id"]
                opts["AWS_SECRET_ACCESS_KEY"] = self.secrets.get("secret_access_key", "")
                if self.secrets.get("session_token"):
                    opts["AWS_SESSION_TOKEN"] = self.secrets["session_token"]
            if c.get("region"):
                opts["AWS_REGION"] = c["region"]
            if c.get("endpoint_url"):
                opts["AWS_ENDPOINT_URL"] = c["endpoint_url"]
                if c["endpoint_url"].startswith("http://"):
                    opts["AWS_ALLOW_HTTP"] = "true"
            opts["AWS_EC2_METADATA_DISABLED"] = "true" if c.get("access_key_id") else "false"
        elif self.scheme == "az":
            az = azure_options(self._az_config(), self.secrets)
            if "connection_string" in az:
                for part in az["connection_string"].split(";"):
                    key, _, value = part.partition("=")
                    key = key.strip().lower()
                    if key == "accountname":
                        opts["azure_storage_account_name"] = value
                    elif key == "accountkey":
                        opts["azure_storage_account_key"] = value
                    elif key == "sharedaccesssignature":
                        opts["azure_storage_sas_key"] = value
                    elif key == "blobendpoint":
                        opts["azure_storage_endpoint"] = value
                        if value.startswith("http://"):
                            opts["azure_allow_http"] = "true"
            else:
                opts["azure_storage_account_name"] = az.get("account_name") or ""
                if az.get("account_key"):
                    opts["azure_storage_account_key"] = az["account_key"]
                if az.get("sas_token"):
                    opts["azure_storage_sas_key"] = az["sas_token"]
                if az.get("anon"):
                    opts["azure_skip_signature"] = "true"
        return opts

    # -- the contract -------------------------------------------------------------------------

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        what = _cap(self.where())
        if self.scheme == "local":
            from vision_widgets.core.connectors.local import LocalConnection

            _, _, base = parse_location(self.config["location"])
            local = LocalConnection(self.settings)
            inner = store.inside(base, path) if base else (path or "").strip("/")
            return [Entry(e.name, store.relative(base, e.path) if base else e.path, e.kind)
                    for e in local.browse(inner, limit) if e.kind in ("folder", "delta")]
        return within(self.timeout * 3, lambda: store.guard(
            lambda: [e for e in store.browse(self.fs(), self._root(), path, limit, detect_delta=True)
                     if e.kind in ("folder", "delta")],
            lambda exc: self._error(exc, what)), what, self._secret_values())

    def _table(self, reference: str):
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        uri = self._table_uri(reference)
        name = (reference or "").strip() or "the location"
        try:
            table = DeltaTable(uri, storage_options=self.storage_options() or None)
        except TableNotFoundError:
            raise InvalidInput(f"{name} in {self.where()} is not a Delta table (it has no _delta_log); give the "
                               "folder of a Delta table.", field="path") from None
        self._check_files(table, uri, name)
        return table

    def _check_files(self, table, uri: str, name: str) -> None:
        """Refuse the table unless every data file its log names lies inside it: no absolute path or
        URI, no ``..``; locally, each file and ``_delta_log`` resolved (links followed) under the roots."""
        from pathlib import Path, PurePosixPath
        from urllib.parse import unquote

        refused = InvalidInput(f"The Delta table {name} in {self.where()} names data files outside its own folder "
                               "(an absolute path, '..' or a link leading out); Vision AI reads only files inside "
                               "the table's folder. Rewrite the table (or ask its owner to) without them.",
                               field="path")
        paths = table.get_add_actions(flatten=True).column("path").to_pylist()
        relative: list[str] = []
        for raw in paths:
            raw = str(raw or "")
            text = unquote(raw).replace("\\", "/")
            if not text or _SCHEME.match(raw) or _SCHEME.match(text) or text.startswith("/") \
                    or ".." in PurePosixPath(text).parts:
                raise refused
            relative.append(text)
        if self.scheme != "local":
            return  # relative, without '..': under the table, which store.inside keeps under the root
        from vision_widgets.core.connectors import allowed_roots

        roots = [r.resolve() for r in allowed_roots(self.settings)]
        folder = Path(uri)

        def inside(path: Path) -> bool:
            try:
                real = path.resolve(strict=True)
            except (OSError, RuntimeError):
                return True  # missing: nothing outside can be read through it; deltalake says it is missing
            return any(real.is_relative_to(root) for root in roots)

        if not inside(folder / "_delta_log") or not all(inside(folder / p) for p in relative):
            raise refused

    def open(self, reference: str) -> Any:
        name = (reference or "").strip() or "the location"
        what = f"The Delta table {name} in {self.where()}"

        def reader():
            table = self._table(reference)
            return store.scan(table.to_pyarrow_dataset(filesystem=self._arrow_fs(reference)))

        opened = within(self.timeout * 3, lambda: store.guard(reader, lambda e: self._error(e, what)), what,
                        self._secret_values())
        return store.translated(opened, lambda e: self._error(e, what))

    def reword(self, text: str) -> str:
        """``text`` with server paths under the data folders named by the folders (see ``connectors.reword``)."""
        if self.scheme != "local":
            return text
        from vision_widgets.core.connectors.local import LocalConnection

        return LocalConnection(self.settings).reword(text)

    def describe(self, reference: str) -> str:
        return f"the Delta table {(reference or '').strip() or 'at the location'} in {self.where()}"

    def test(self, timeout: float = 10.0) -> TestResult:
        def probe() -> tuple[str, tuple[str, ...]]:
            entries = self.browse("", 50)
            tables = [e.path for e in entries if e.kind == "delta"]
            return (f"Reached {self.where()}; {len(tables)} Delta table(s) at the top.",
                    tuple((tables or [e.path for e in entries])[:10]))

        return timed_test(timeout, probe, _cap(self.where()), self._secret_values())

    def close(self) -> None:
        self._fs = None


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]

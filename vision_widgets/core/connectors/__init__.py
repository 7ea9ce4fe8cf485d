"""Where a model's data comes from: connector *types*, registered by name, each with a schema.

A connector type (``local``, ``sql``, ``s3``, ``azure_blob``, ``delta``, ``databricks_sql``) says
which settings it needs (``fields``: forms and the CLI are built from them; ``secret`` fields are
stored encrypted and never shown again), checks a configuration (``check``), and connects with one
(``connect``) to give a ``Connection`` that browses what is under it and opens one thing as
something ``client.profile`` reads: a local path (local files keep their fast paths) or a
``pyarrow.RecordBatchReader`` that streams the data in batches, so profiling stays chunked and
memory-bounded whatever the source.

One module per type; each registers itself with ``@register_type`` when imported, and this package
imports them all at the end, so ``types()`` lists every one. Stored, named connectors (a type plus
its configuration and sealed secrets) live in ``core/catalog/connector_store.py``.

``named_roots``, ``allowed_roots`` and ``demo_folder`` say which server folders the local type
reads (and where ``vision init --demo`` writes); everything else goes through stored connectors.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import InvalidInput

DATA_SUFFIXES = (".csv", ".parquet", ".pq")

#: The order types are listed in (forms, the CLI); a type not named here comes after, by name.
TYPE_ORDER = ("local", "sql", "s3", "azure_blob", "delta", "databricks_sql")


# --- the contract: fields, entries, test results, connections, types -------------------------


@dataclass(frozen=True)
class Field:
    """One configuration field of a connector type (forms and the CLI are built from these)."""

    name: str
    label: str
    help: str = ""
    kind: str = "text"  # text | int | bool | choice
    secret: bool = False  # stored encrypted, never shown again
    required: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None


@dataclass(frozen=True)
class Entry:
    """One thing under a connector, as ``browse`` lists it; ``path`` goes to ``open``/``browse``."""

    name: str
    path: str
    kind: str  # "folder" | "file" | "table" | "delta"


@dataclass(frozen=True)
class TestResult:
    """What ``Connection.test`` found: success, how long it took, plain words, a few things seen."""

    __test__ = False  # not a pytest test class

    ok: bool
    latency_ms: float
    message: str
    sample: tuple[str, ...] = ()


class Connection(Protocol):
    """A connector type connected with one configuration."""

    def browse(self, path: str = "", limit: int = 200) -> list[Entry]:
        """What is under ``path`` ("" = the top): folders, files, tables, Delta tables."""

    def open(self, reference: str) -> Any:
        """What ``client.profile`` accepts: a local path, or a ``pyarrow.RecordBatchReader``."""

    def describe(self, reference: str) -> str:
        """``reference`` in words for messages (never a secret)."""

    def test(self, timeout: float = 10.0) -> TestResult:
        """Reach the source within ``timeout`` seconds; never raises for an unreachable source."""

    def close(self) -> None:
        """Release what the connection holds (engines, clients)."""

    # Optional: ``reword(text) -> str`` gives ``text`` with every server-side name the connection
    # made (a resolved local path) replaced by the user's reference; see ``reword`` below.


class ConnectorType(Protocol):
    """A kind of source; one module per type, registered with ``@register_type``."""

    type: str
    title: str
    fields: tuple[Field, ...]

    def check(self, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
        """The configuration normalised (config, secrets), or ``InvalidInput`` naming the field."""

    def connect(self, settings: Settings, config: Mapping[str, Any], secrets: Mapping[str, str]) -> Connection:
        """A connection with this configuration (cheap: nothing is reached until it is used)."""


_TYPES: dict[str, ConnectorType] = {}


def register_type(cls: type) -> type:
    """Class decorator: make the connector type ``cls`` (instantiated once) available by its ``type``."""
    instance = cls()
    _TYPES[instance.type] = instance
    return cls


def types() -> tuple[ConnectorType, ...]:
    """The registered connector types, in a stable order (``TYPE_ORDER``, then by name)."""
    rank = {name: i for i, name in enumerate(TYPE_ORDER)}
    return tuple(sorted(_TYPES.values(), key=lambda t: (rank.get(t.type, len(rank)), t.type)))


def type_of(type_name: str) -> ConnectorType:
    """The connector type named ``type_name``, or ``InvalidInput`` naming the known ones."""
    found = _TYPES.get((type_name or "").strip())
    if found is None:
        known = ", ".join(t.type for t in types())
        raise InvalidInput(f"There is no connector type {type_name!r}; choose one of: {known}.", field="type")
    return found


def check_fields(fields: tuple[Field, ...], config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
    """The generic part of ``ConnectorType.check``: known fields only, each where it belongs
    (secret or not), required ones present, ints and bools parsed, choices respected, defaults
    filled. Returns (config, secrets) with empty values dropped; ``InvalidInput.field`` names the
    field at fault."""
    by_name = {f.name: f for f in fields}
    for source, secret in ((config or {}, False), (secrets or {}, True)):
        for key in source:
            f = by_name.get(key)
            if f is None:
                raise InvalidInput(f"{key!r} is not a setting of this connector type; its settings are: "
                                   f"{', '.join(by_name) or 'none'}.", field=key)
            if f.secret != secret:
                where = "a secret" if f.secret else "not a secret"
                raise InvalidInput(f"{f.label} is {where}; give it {'with the secrets' if f.secret else 'with the settings'}.",
                                   field=key)
    out_config: dict[str, Any] = {}
    out_secrets: dict[str, str] = {}
    for f in fields:
        raw = (secrets or {}).get(f.name) if f.secret else (config or {}).get(f.name)
        if isinstance(raw, str):
            raw = raw.strip()
        if raw is None or raw == "":
            if f.required:
                raise InvalidInput(f"{f.label} is required.", field=f.name)
            if f.default is not None and not f.secret:
                out_config[f.name] = f.default
            continue
        if f.secret:
            if not isinstance(raw, str):
                raise InvalidInput(f"{f.label} must be text.", field=f.name)
            out_secrets[f.name] = raw
            continue
        out_config[f.name] = _parse(f, raw)
    return out_config, out_secrets


def _parse(f: Field, raw: Any) -> Any:
    if f.kind == "int":
        try:
            value = int(str(raw).strip()) if not isinstance(raw, bool) else None
        except ValueError:
            value = None
        if value is None or value < 0:
            raise InvalidInput(f"{f.label} must be a whole number (got {str(raw)[:40]!r}).", field=f.name)
        return value
    if f.kind == "bool":
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise InvalidInput(f"{f.label} must be yes or no (got {str(raw)[:40]!r}).", field=f.name)
    if f.kind == "choice":
        if raw not in f.choices:
            raise InvalidInput(f"{f.label} must be one of: {', '.join(f.choices)} (got {str(raw)[:40]!r}).", field=f.name)
        return raw
    if not isinstance(raw, str):
        raise InvalidInput(f"{f.label} must be text.", field=f.name)
    if "\x00" in raw or len(raw) > 4000:
        raise InvalidInput(f"{f.label} is not usable text.", field=f.name)
    return raw


# --- the data folders the local type reads (also the demo data's home) ---------------------------


def demo_folder(settings: Settings) -> Path:
    """Where ``vision init --demo`` writes the demo data files."""
    return settings.home / "demo-data"


def allowed_roots(settings: Settings) -> tuple[Path, ...]:
    roots = list(settings.data_roots)
    demo = demo_folder(settings)
    if demo not in roots:
        roots.append(demo)
    return tuple(roots)


def named_roots(settings: Settings) -> tuple[tuple[str, Path], ...]:
    """The allowed roots with the names people use for them: the folder's own name (``data``,
    ``demo-data``), made unique with ``-2``, ``-3`` … Server paths stay on the server: a file is
    given as ``<name>/<path inside it>``, and messages name the folders, not where they are."""
    named: list[tuple[str, Path]] = []
    seen: set[str] = set()
    for root in allowed_roots(settings):
        base = root.name or "data"
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base}-{n}"
        seen.add(name)
        named.append((name, root))
    return tuple(named)


# --- messages in the user's words ---------------------------------------------------------------


def reword(text: str, connection: Any) -> str:
    """``text`` with every server path ``connection`` resolved replaced by the reference the user gave.

    ``LocalConnection.open`` hands ``client.profile`` the *resolved* path of a file (so its fast
    paths apply), and ``client.profile``'s messages name the path it was given: without this, a job
    error, a model's last pull outcome or a registration message would show where the server keeps
    its data. Connections that never hand out server paths have no ``reword`` and the text is
    returned as is.
    """
    rewording = getattr(connection, "reword", None)  # optional part of the Connection contract
    return rewording(text) if callable(rewording) and isinstance(text, str) else text


@contextmanager
def reworded(connection: Any) -> Iterator[None]:
    """Around code that reads what ``connection`` opened (``client.profile(connection.open(ref))``):
    an error raised inside leaves with its message in the user's words (``reword``), its type and
    ``field`` unchanged, so callers and the HTTP layer treat it as before."""
    try:
        yield
    except Exception as exc:
        if exc.args and isinstance(exc.args[0], str):
            new = reword(exc.args[0], connection)
            if new != exc.args[0]:
                exc.args = (new, *exc.args[1:])
        raise


# Importing a type's module registers it (kept last: they use ``register_type`` above).
from vision_widgets.core.connectors import azure_blob, databricks_sql, delta, local, s3, sql  # noqa: E402,F401

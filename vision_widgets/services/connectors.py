"""Stored connectors: list, add, edit, remove, test and browse them; connect through them.

Admins (``MANAGE_CONNECTORS``) manage connectors and see their configuration and last test message;
every account that may register models (``REGISTER_MODEL``) may *use* any stored connector — register
through it, browse it — and sees only its name, type, title, description and whether its last test
passed, and when (the message may name hosts or databases from its settings).

Secrets never leave this module in clear except into the connector type's ``connect``: they are
sealed at rest (``core/secrets.py``), never returned (``ConnectorInfo.secrets_set`` names the fields
that hold a value), never audited (entries name the fields changed), and scrubbed from any message
a type hands back (test results, errors) in case a library repeated one — with the one scrub of
``core/connectors/failures.py`` (values, their URL-encoded forms, credentials in URLs). A library's
unexpected exception becomes a ``ConnectorError`` of its kind and scrubbed first line; the log gets
only its class and that line, never a traceback (its frames and text may hold a secret). A connector whose secrets
cannot be opened (the key changed or was lost) is still listed, marked ``readable=False``; using it
says to re-enter them, and re-entering them in an update makes it readable again.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from vision_widgets.core import audit, connectors, stored_secrets
from vision_widgets.core.catalog import connector_store as store
from vision_widgets.core.catalog.connector_store import BUILT_IN, ConnectorRow
from vision_widgets.core.connectors import Connection, Entry, Field, TestResult, check_fields
from vision_widgets.core.connectors.failures import connector_error, first_line, scrub
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict, ConnectorError, InvalidInput, VisionError
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission, has
from vision_widgets.core.secrets import SecretBox, SecretsUnreadable
from vision_widgets.services.sessions import acting

log = logging.getLogger(__name__)

__all__ = [
    "ConnectorInfo",
    "TypeInfo",
    "list_types",
    "list_connectors",
    "get_connector",
    "add_connector",
    "update_connector",
    "remove_connector",
    "test_connector",
    "browse",
    "connect",
    "reseal",
    "UNREADABLE",
]

UNREADABLE = stored_secrets.unreadable_text("connector")


@dataclass(frozen=True)
class ConnectorInfo:
    """A stored connector as a person may see it (no secret value, ever)."""

    name: str
    type: str
    title: str
    description: str
    config: dict                   # non-secret settings; empty for non-admins
    secrets_set: tuple[str, ...]   # secret fields holding a value (admins only); never values
    readable: bool                 # False: its secrets cannot be decrypted; re-enter them
    last_test_at: datetime | None
    last_test_ok: bool | None
    last_test_ms: float | None
    last_test_message: str         # admins only (it may name a host or database from the settings)
    models: tuple[str, ...]        # models registered through it (admins only)

    @property
    def built_in(self) -> bool:
        return self.name.lower() == BUILT_IN


@dataclass(frozen=True)
class TypeInfo:
    """A connector type an admin may add: its name, title and configuration fields."""

    type: str
    title: str
    fields: tuple[Field, ...]


# -- helpers ---------------------------------------------------------------------------------------

def _title(type_name: str) -> str:
    try:
        return connectors.type_of(type_name).title
    except VisionError:
        return type_name


def _secret_names(type_name: str) -> tuple[str, ...]:
    try:
        return tuple(f.name for f in connectors.type_of(type_name).fields if f.secret)
    except VisionError:
        return ()


def _clean(text: str, secrets: Mapping[str, str], patterns: bool = True) -> str:
    return scrub(text, secrets.values(), patterns=patterns)


def _info(ctx: Context, row: ConnectorRow, admin: bool, models: list[str],
          box: SecretBox | None = None) -> ConnectorInfo:
    readable, secrets_set = stored_secrets.readable_names(ctx.settings, row, box)
    return ConnectorInfo(
        name=row.name, type=row.type, title=_title(row.type), description=row.description,
        config=dict(row.config) if admin else {}, secrets_set=secrets_set if admin else (),
        readable=readable, last_test_at=row.last_test_at, last_test_ok=row.last_test_ok,
        last_test_ms=row.last_test_ms if admin else None,
        last_test_message=row.last_test_message if admin else "",
        models=tuple(models) if admin else (),
    )


def _split(type_name: str, values: Mapping[str, Any] | None) -> tuple[dict, dict]:
    """Given field values split into (config, secrets) by the type's fields: a secret given as a
    config value is still treated as a secret (a script passing everything in one mapping)."""
    names = set(_secret_names(type_name))
    config, secrets = {}, {}
    for key, value in (values or {}).items():
        (secrets if key in names else config)[key] = value
    return config, secrets


def _check(type_name: str, config: Mapping[str, Any], secrets: Mapping[str, str]) -> tuple[dict, dict]:
    ctype = connectors.type_of(type_name)
    known = {f.name for f in ctype.fields}
    unknown = sorted(k for k in (*config, *secrets) if k not in known)
    if unknown:
        raise InvalidInput(
            f"A {ctype.title} connector has no setting {unknown[0]!r}; its settings are: "
            + (", ".join(f.name for f in ctype.fields) or "none") + ".", field=unknown[0])
    config, secrets = ctype.check(dict(config), {k: str(v) for k, v in secrets.items()})
    return dict(config), {k: str(v) for k, v in dict(secrets).items() if v not in (None, "")}


def _changed(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[str]:
    return sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))


# -- reading ---------------------------------------------------------------------------------------

def list_types(ctx: Context, principal: Principal) -> list[TypeInfo]:
    """The connector types an admin may add a connector of, with their fields (admins)."""
    acting(ctx, principal, Permission.MANAGE_CONNECTORS)
    return [TypeInfo(t.type, t.title, tuple(t.fields)) for t in connectors.types()]


def list_connectors(ctx: Context, principal: Principal) -> list[ConnectorInfo]:
    """Every stored connector: any account that registers models may use them all; only admins see
    their configuration, which secrets are set, and the models using them."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    admin = has(me, Permission.MANAGE_CONNECTORS)
    with ctx.store.read() as conn:
        rows = store.list_all(conn)
        using = store.models_by_connector(conn) if admin else {}
    box = stored_secrets.reading_box(ctx.settings, rows)
    return [_info(ctx, r, admin, using.get(r.name.lower(), []), box) for r in rows]


def get_connector(ctx: Context, principal: Principal, name: str) -> ConnectorInfo:
    """One stored connector (as ``list_connectors`` shows it); ``NotFound`` if there is none."""
    me = acting(ctx, principal, Permission.REGISTER_MODEL)
    admin = has(me, Permission.MANAGE_CONNECTORS)
    with ctx.store.read() as conn:
        row = store.get(conn, name)
        models = store.models_using(conn, row.name) if admin else []
    return _info(ctx, row, admin, models, stored_secrets.reading_box(ctx.settings, [row]))


# -- changing --------------------------------------------------------------------------------------

def add_connector(ctx: Context, principal: Principal, name: str, type: str, config: Mapping[str, Any] | None,
                  secrets: Mapping[str, str] | None, description: str = "") -> ConnectorInfo:
    """Store a new connector of ``type`` (admins). Its settings are checked by the type first;
    its secrets are sealed; the audit entry names the fields set, never a value."""
    me = acting(ctx, principal, Permission.MANAGE_CONNECTORS)
    name = store.check_name(name)
    extra_config, extra_secrets = _split(type, config)
    checked_config, checked_secrets = _check(type, extra_config, {**extra_secrets, **dict(secrets or {})})
    sealed = stored_secrets.seal(ctx.settings, checked_secrets)
    now = ctx.now()
    with ctx.store.write() as conn:
        row = store.insert(conn, name, connectors.type_of(type).type, (description or "").strip(),
                           checked_config, sealed, me.username, now)
        detail = f"type={row.type}; settings: {', '.join(sorted(checked_config)) or 'none'}"
        if checked_secrets:
            detail += f"; secrets: {', '.join(sorted(checked_secrets))}"
        audit.record(conn, now, me.username, "add connector", row.name, detail)
    return _info(ctx, row, True, [])


def update_connector(ctx: Context, principal: Principal, name: str, config: Mapping[str, Any] | None = None,
                     secrets: Mapping[str, str] | None = None, description: str | None = None) -> ConnectorInfo:
    """Change a connector (admins). ``config`` replaces the non-secret settings (a key missing from it
    is unset); ``secrets`` replaces only the fields given with a non-empty value (empty: keep). When
    the stored secrets cannot be decrypted, the ones given replace them all (re-entering them makes
    the connector readable again)."""
    me = acting(ctx, principal, Permission.MANAGE_CONNECTORS)
    with ctx.store.read() as conn:
        row = store.get(conn, name)
    if row.built_in and (config or secrets):
        raise InvalidInput("The built-in local connector has no settings: it reads the server's data folders.",
                           field="config")
    given_config, given_secrets = _split(row.type, config) if config is not None else (None, {})
    given_secrets = stored_secrets.given(given_secrets, secrets)
    old_secrets, readable = stored_secrets.kept(ctx.settings, row)
    new_config = dict(row.config) if given_config is None else dict(given_config)
    sealed: str | None = None
    if readable or given_secrets:
        new_config, sealed = stored_secrets.merge(ctx.settings, new_config, old_secrets, readable, given_secrets,
                                                  lambda c, s: _check(row.type, c, s))
    else:
        # Unreadable and nothing re-entered: a type checks its settings together with its secrets
        # (a SQL URL's dialect, an S3 key pair), so new settings cannot be checked, and stored
        # unchecked they would fail later, far from here. The same settings (a form saved for its
        # description) pass; a change needs the secrets re-entered, which checks everything.
        fields = connectors.type_of(row.type).fields
        same, _ = check_fields(tuple(f for f in fields if not f.secret), new_config, {})
        if not _changed(row.config, same):
            new_config = dict(row.config)
        else:
            needed = [f.name for f in fields if f.secret and f.required]
            raise InvalidInput(
                f"{row.name}'s secrets cannot be decrypted (the secret key changed), so its settings cannot be "
                f"checked: re-enter its secrets ({', '.join(needed) or 'all of them'}) with the change.",
                field=needed[0] if needed else "secrets")
    new_description = None if description is None else description.strip()
    changed_config = _changed(row.config, new_config)
    changed_secrets = sorted(given_secrets) if sealed is not None else []
    if new_description is not None and new_description == row.description:
        new_description = None
    now = ctx.now()
    with ctx.store.write() as conn:
        updated = store.update_row(conn, row.name, now, config=new_config if changed_config else None,
                                   secrets=sealed, description=new_description, version=row.updated_at)
        parts = []
        if changed_config:
            parts.append(f"settings: {', '.join(changed_config)}")
        if changed_secrets:
            parts.append(f"secrets: {', '.join(changed_secrets)}")
        if new_description is not None:
            parts.append("description")
        audit.record(conn, now, me.username, "update connector", row.name, "; ".join(parts) or "no change")
        models = store.models_using(conn, row.name)
    return _info(ctx, updated, True, models)


def remove_connector(ctx: Context, principal: Principal, name: str, move_models_to: str | None = None) -> None:
    """Remove a connector (admins). Refused while models use it, unless they move to
    ``move_models_to`` — a connector of the same type, so it reads the same references — in the
    same transaction. The built-in ``local`` connector stays."""
    me = acting(ctx, principal, Permission.MANAGE_CONNECTORS)
    now = ctx.now()
    with ctx.store.write() as conn:
        # both connectors stay as they are until this commits: a registration through either waits (or is
        # waited for), and two admins moving models each way at once cannot both succeed
        store.lock(conn, name, move_models_to or "")
        row = store.get(conn, name)
        if row.built_in:
            raise Conflict("The built-in local connector cannot be removed.")
        models = store.models_using(conn, row.name)
        detail = ""
        if models and not move_models_to:
            raise Conflict(
                f"{len(models)} model{'s use' if len(models) != 1 else ' uses'} it: {', '.join(models)}; "
                "move them to another connector first or pass move_models_to."
            )
        if models:
            target = store.get(conn, move_models_to)
            if target.name.lower() == row.name.lower():
                raise InvalidInput("Move the models to another connector than the one removed.",
                                   field="move_models_to")
            if target.type != row.type:
                raise InvalidInput(
                    f"{target.name} is a {_title(target.type)} connector; the models of {row.name} "
                    f"read {_title(row.type)} references, so move them to a connector of that type.",
                    field="move_models_to")
            moved = store.move_models(conn, row.name, target.name, now)
            detail = f"moved {moved} model{'s' if moved != 1 else ''} to {target.name}"
        store.remove(conn, row.name)
        audit.record(conn, now, me.username, "remove connector", row.name, detail)


def reseal(ctx: Context, principal: Principal) -> tuple[list[str], list[str]]:
    """Seal every connector's secrets again with the first key of ``VISION_SECRET_KEY`` (admins): the
    step of a key rotation between "new key first, old one after it" and "old key removed". Returns
    (names sealed again, names no key opens). Values never change; the last tests stay."""
    me = acting(ctx, principal, Permission.MANAGE_CONNECTORS)
    now = ctx.now()
    with ctx.store.write() as conn:
        done, unreadable, detail = stored_secrets.reseal_rows(
            ctx.settings, store.list_all(conn), lambda name, token: store.replace_token(conn, name, token))
        if done or unreadable:  # none has secrets: nothing to audit
            audit.record(conn, now, me.username, "reseal connectors", "", detail)
    return done, unreadable


# -- using -----------------------------------------------------------------------------------------

def _unexpected(exc: BaseException, what: str, secrets: Mapping[str, str]) -> ConnectorError:
    """A ``ConnectorError`` for a library's (or a type's) unexpected exception, logged as its class and
    scrubbed first line only: a traceback's text and frames may hold a secret."""
    log.warning("%s failed unexpectedly: %s: %s", what, type(exc).__name__,
                _clean(first_line(str(exc)), secrets))
    return connector_error(exc, what, secrets.values())


def _guarded(exc: Exception, what: str, secrets: Mapping[str, str]) -> VisionError:
    """``exc`` made safe to show: a ``VisionError``'s text scrubbed (same class), anything else a
    ``ConnectorError`` (see ``_unexpected``)."""
    if isinstance(exc, InvalidInput):
        return InvalidInput(_clean(str(exc), secrets), field=exc.field)
    if isinstance(exc, VisionError):
        return ConnectorError(_clean(str(exc), secrets)) if isinstance(exc, ConnectorError) else exc
    return _unexpected(exc, what, secrets)


def _connect(ctx: Context, name: str) -> tuple[Connection, dict[str, str]]:
    with ctx.store.read() as conn:
        row = store.get(conn, name)
    try:
        secrets = stored_secrets.open_row(ctx.settings, row)
    except SecretsUnreadable as exc:
        raise ConnectorError(stored_secrets.unreadable_reason("connector", row, exc)) from None
    try:
        return connectors.type_of(row.type).connect(ctx.settings, dict(row.config), secrets), secrets
    except Exception as exc:  # noqa: BLE001 - nothing raw (it may hold a secret) leaves this module
        raise _guarded(exc, f"Connector {row.name}", secrets) from None


def connect(ctx: Context, principal: Principal, name: str) -> Connection:
    """A live connection through stored connector ``name`` (registration; scheduled pulls, as the
    account that scheduled them); the caller closes it. ``ConnectorError`` when its secrets cannot be
    decrypted. There is no principal-free variant: every use of a connector is someone's."""
    acting(ctx, principal, Permission.REGISTER_MODEL)
    return _connect(ctx, name)[0]


def browse(ctx: Context, principal: Principal, name: str, path: str = "") -> list[Entry]:
    """What lies under ``path`` in connector ``name``: folders, files, tables (any account that registers).
    A failure is a ``ConnectorError`` or ``InvalidInput`` with no secret in it."""
    acting(ctx, principal, Permission.REGISTER_MODEL)
    connection, secrets = _connect(ctx, name)
    try:
        return list(connection.browse(path))
    except Exception as exc:  # noqa: BLE001 - see _guarded
        raise _guarded(exc, f"Connector {name}", secrets) from None
    finally:
        try:
            connection.close()
        except Exception as exc:  # noqa: BLE001 - closing must not hide the answer
            log.warning("closing connector %s failed: %s", name, type(exc).__name__)


def test_connector(ctx: Context, principal: Principal, name: str, timeout: float = 10.0) -> TestResult:
    """Try the connector within ``timeout`` seconds (admins): success with its latency and a sample
    of what it sees, or the error in plain words. The result is stored (Monitoring shows it) and
    audited. ``ConnectorError`` when its secrets cannot be decrypted (also stored, as a failure)."""
    me = acting(ctx, principal, Permission.MANAGE_CONNECTORS)
    with ctx.store.read() as conn:
        row = store.get(conn, name)
    started = time.monotonic()
    secrets: dict[str, str] = {}
    unreadable = False
    try:
        secrets = stored_secrets.open_row(ctx.settings, row)
        connection = connectors.type_of(row.type).connect(ctx.settings, dict(row.config), secrets)
        try:
            result = connection.test(timeout=timeout)
        finally:
            connection.close()
    except SecretsUnreadable as exc:
        unreadable = True
        result = TestResult(False, 0.0, stored_secrets.unreadable_reason("connector", row, exc))
    except VisionError as exc:
        result = TestResult(False, (time.monotonic() - started) * 1000.0, str(exc))
    except Exception as exc:  # noqa: BLE001 - a type's bug must not leak library text (it may hold a secret)
        result = TestResult(False, (time.monotonic() - started) * 1000.0,
                            str(_unexpected(exc, f"Connector {row.name}", secrets)))
    result = TestResult(result.ok, float(result.latency_ms), _clean(result.message, secrets),
                        tuple(_clean(str(s), secrets, patterns=False) for s in result.sample))
    now = ctx.now()
    with ctx.store.write() as conn:
        # Only if the settings tested are still the stored ones: an edit during the test (up to
        # ``timeout`` seconds) forgot the last test, and this one says nothing about the new settings.
        recorded = store.record_test(conn, row.name, now, result.ok, result.latency_ms, result.message,
                                     tested=row.updated_at)
        audit.record(conn, now, me.username, "test connector", row.name,
                     (f"ok, {result.latency_ms:.0f} ms" if result.ok else "failed")
                     + ("" if recorded else "; not kept: the connector changed during the test"))
    if unreadable:
        raise ConnectorError(result.message)
    return result

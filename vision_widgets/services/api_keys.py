"""API keys for automation: an admin issues, lists and revokes them (``MANAGE_API_KEYS``).

The key is returned once, by ``issue``; only its SHA-256 is stored
(``core/identity/api_keys.py``). A key with scope ``usage`` sends usage records for
any model through ``POST /vision/api/models/{name}/usage``.
"""
from __future__ import annotations

import re
from datetime import timedelta

from vision_widgets.core import audit
from vision_widgets.core.context import Context
from vision_widgets.core.errors import Conflict, InvalidInput
from vision_widgets.core.identity import api_keys
from vision_widgets.core.identity.api_keys import SCOPES, ApiKey
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.identity.rbac import Permission
from vision_widgets.core.storage.engine import serialise
from vision_widgets.services.sessions import acting

__all__ = ["SCOPES", "ApiKey", "issue", "list_keys", "revoke"]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$")
#: The longest life a key may be given, in days (a key that must last longer is issued again).
MAX_DAYS = 3650


def issue(ctx: Context, principal: Principal, name: str, scope: str = "usage",
          expires_in_days: int | None = None) -> tuple[str, ApiKey]:
    """Issue a key; returns (the key — shown once, never stored — and its listing).

    ``name`` says what uses it (``nightly-usage-export``): 1–64 letters, digits, space . _ -, unique
    among the keys not revoked. ``expires_in_days``: none means it lasts until revoked.
    """
    me = acting(ctx, principal, Permission.MANAGE_API_KEYS)
    name = (name or "").strip()
    if not _NAME.match(name):
        raise InvalidInput("Name the key after what uses it: 1–64 letters, digits, spaces, '.', '_' or '-', "
                           "starting with a letter or digit.", field="name")
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown scope {scope!r}; the scopes are {', '.join(SCOPES)}.", field="scope")
    if expires_in_days is not None and not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInput(f"A key expires in 1 to {MAX_DAYS} days, or never.", field="expires_in_days")
    now = ctx.now()
    expires = None if expires_in_days is None else now + timedelta(days=expires_in_days)
    with ctx.store.write() as conn:
        serialise(conn, "api key names")  # no index keeps live names unique: one issuer at a time
        if api_keys.active_name_taken(conn, name):
            raise Conflict(f"A key named {name!r} exists already; revoke it first or choose another name.")
        key, listing = api_keys.issue(conn, name, scope, me.username, now, expires)
        audit.record(conn, now, me.username, "issue API key", name, f"scope {scope}"
                     + (f", expires {expires:%Y-%m-%d}" if expires else ""))
    return key, listing


def list_keys(ctx: Context, principal: Principal) -> list[ApiKey]:
    """Every key (revoked and expired too), newest first; never a key or its hash."""
    acting(ctx, principal, Permission.MANAGE_API_KEYS)
    with ctx.store.read() as conn:
        return api_keys.listed(conn)


def revoke(ctx: Context, principal: Principal, key_id: int) -> ApiKey:
    """Revoke a key at once: the next request with it is refused (401)."""
    me = acting(ctx, principal, Permission.MANAGE_API_KEYS)
    now = ctx.now()
    with ctx.store.write() as conn:
        key, revoked_now = api_keys.revoke(conn, key_id, now)
        if revoked_now:  # audited once, also when two admins revoke it at once
            audit.record(conn, now, me.username, "revoke API key", key.name)
    return key

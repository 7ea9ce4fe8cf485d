"""Load the sample accounts from ``users.json`` (``vision init``).

Loaded once: when the database already holds accounts, ``init`` leaves them
as they are (a changed password is never reset, a removed sample account does
not come back); accounts are then managed in the app or with ``vision users``. The whole file is validated
before anything is written, and it is written in one transaction, so a
malformed file loads nothing and the error names the entry.
"""
from __future__ import annotations

import json
from pathlib import Path

from vision_widgets.core import audit
from vision_widgets.core.context import Context
from vision_widgets.core.errors import ConfigurationError, InvalidInput
from vision_widgets.core.identity import users
from vision_widgets.core.identity.passwords import is_argon2id_hash
from vision_widgets.core.storage.engine import serialise

_REQUIRED = ("username", "password_hash", "persona", "profile")


def read_users_file(path: Path) -> list[tuple[users.NewAccount, str]]:
    """Parse and validate ``users.json``: a list of (account, Argon2id hash)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigurationError(f"{path} does not exist; set VISION_USERS_FILE or pass --users.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigurationError(f"{path} is not valid JSON ({exc}); fix the file and run init again.") from None
    entries = data.get("users") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ConfigurationError(f'{path} must be an object with a "users" list.')
    out: list[tuple[users.NewAccount, str]] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        label = f"{path.name} entry {i + 1}"
        if isinstance(entry, dict) and isinstance(entry.get("username"), str):
            label += f" ({entry['username']!r})"
        if not isinstance(entry, dict):
            raise ConfigurationError(f"{label} is not an object.")
        # Checked before missing fields: an entry with "password" instead of
        # "password_hash" must be told it holds plaintext, not just that a hash is missing.
        if "password" in entry:
            raise ConfigurationError(f"{label} has a plaintext 'password'; store only an Argon2id 'password_hash'.")
        missing = [k for k in _REQUIRED if not entry.get(k)]
        if missing:
            raise ConfigurationError(f"{label} is missing {', '.join(missing)}.")
        if not is_argon2id_hash(entry["password_hash"]):
            raise ConfigurationError(f"{label}: password_hash is not an Argon2id hash ($argon2id$…).")
        try:
            new = users.NewAccount(
                username=entry["username"],
                persona=entry["persona"],
                role=entry["profile"],  # users.json keeps the seed's word for the role
                lob=entry.get("line_of_business", ""),
                sub_lob=entry.get("sub_lob", ""),
                notes=entry.get("notes", ""),
                owned_model=entry.get("owned_model", ""),
            ).validated()
        except InvalidInput as exc:
            raise ConfigurationError(f"{label}: {exc}") from None
        if new.username.lower() in seen:
            raise ConfigurationError(f"{label} repeats a username.")
        seen.add(new.username.lower())
        out.append((new, entry["password_hash"]))
    return out


def load_users(ctx: Context, path: Path | None = None) -> list[str]:
    """Load ``users.json`` into an empty database; returns the names added (none if accounts exist)."""
    path = Path(path or ctx.settings.users_file)
    accounts = read_users_file(path)
    added: list[str] = []
    now = ctx.now()
    with ctx.store.write() as conn:
        # two `vision init` at once on PostgreSQL: the second waits here, then finds the accounts
        serialise(conn, "account names")
        if users.list_all(conn):
            # Loaded once: after that, accounts are managed in the app or with `vision users`,
            # and a sample account an admin removed must not come back on the next init.
            return []
        for new, password_hash in accounts:
            if users.exists(conn, new.username):
                continue
            users.insert(conn, new, password_hash, now)
            added.append(new.username)
        if added:
            audit.record(conn, now, "vision init", "load accounts", path.name, ", ".join(added))
    return added

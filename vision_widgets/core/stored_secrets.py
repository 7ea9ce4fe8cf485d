"""The sealed secrets of a stored row (a connector, an alert channel): opened, named, merged, sealed again.

``core/secrets.py`` seals a mapping into one token; the connectors' and alert channels' services
handle those tokens the same way, and this module is that way, once:

- reading never creates a key: a missing key file makes every row *unreadable*, not a fresh key
  that would open nothing (``reading_box``); the key is looked up once for a whole listing;
- a listing names the secret fields holding a value, never the values (``readable_names``);
- an update replaces only the secrets given with a value, keeps the others, and seals again only
  when something changed — or when the old token could not be opened, so that re-entering the
  secrets makes the row readable again (``kept``, ``merge``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Protocol

from vision_widgets.core.config import Settings
from vision_widgets.core.secrets import KeyMissing, SecretBox, SecretsUnreadable, reseal


class Sealed(Protocol):
    """A stored row: its name and its sealed token (or None)."""

    name: str
    secrets: str | None


def open_token(settings: Settings, token: str | None, box: SecretBox | None = None) -> dict[str, str]:
    """The values sealed in ``token`` (``{}`` for none); ``SecretsUnreadable`` when the key cannot
    open them (or the key file is missing: reading never creates a key)."""
    if not token:
        return {}
    return (box or SecretBox.for_settings(settings)).open(token)


def open_row(settings: Settings, row: Sealed, box: SecretBox | None = None) -> dict[str, str]:
    """``row``'s secret values (``open_token`` of its token)."""
    return open_token(settings, row.secrets, box)


def reading_box(settings: Settings, rows: Iterable[Sealed]) -> SecretBox | None:
    """The box to open ``rows``' secrets with, looked up once; None when none has any, or when the
    key file is missing (each one then reads as unreadable, and no key is created)."""
    if not any(r.secrets for r in rows):
        return None
    try:
        return SecretBox.for_settings(settings)
    except SecretsUnreadable:
        return None


def readable_names(settings: Settings, row: Sealed, box: SecretBox | None) -> tuple[bool, tuple[str, ...]]:
    """(whether ``row``'s secrets open, the names of those holding a value): never the values."""
    try:
        values = open_row(settings, row, box)
    except SecretsUnreadable:
        return False, ()
    return True, tuple(sorted(k for k, v in values.items() if v))


def unreadable_reason(noun: str, row: Sealed, exc: SecretsUnreadable) -> str:
    """What to say when the secrets of ``row``, a ``noun``, cannot be opened: the key file is missing
    (told by the exception's type, not its text, which names a server path), or another key."""
    if isinstance(exc, KeyMissing):
        return (f"{row.name}: this {noun}'s secrets cannot be decrypted (the secret key file is missing); "
                "restore the key from a backup, or re-enter them.")
    return f"{row.name}: {unreadable_text(noun)}."


def unreadable_text(noun: str) -> str:
    """What to say of a ``noun`` whose secrets another key sealed."""
    return f"this {noun}'s secrets cannot be decrypted (the secret key changed); re-enter them"


def given(*sources: Mapping[str, Any] | None) -> dict[str, str]:
    """The secrets given with a value (later sources win); an empty one means "keep the saved one"."""
    merged: dict[str, Any] = {}
    for source in sources:
        merged.update(source or {})
    return {k: str(v) for k, v in merged.items() if v not in (None, "")}


def kept(settings: Settings, row: Sealed) -> tuple[dict[str, str], bool]:
    """(``row``'s saved secrets, whether they could be opened): ``({}, False)`` when they cannot."""
    try:
        return open_row(settings, row), True
    except SecretsUnreadable:
        return {}, False


def seal(settings: Settings, values: Mapping[str, str]) -> str | None:
    """``values`` sealed (creating the key file on first use), or None for no secrets."""
    return SecretBox.for_settings(settings, create=True).seal(values) if values else None


def merge(settings: Settings, config: Mapping[str, Any], old: Mapping[str, str], readable: bool,
          new: Mapping[str, str], check: Callable[[Mapping[str, Any], Mapping[str, str]], tuple[dict, dict]],
          ) -> tuple[dict, str | None]:
    """``config`` and the saved secrets ``old`` with the ``new`` ones over them, checked together by
    ``check(config, secrets)``; (the checked config, the new token — None when the secrets are unchanged)."""
    checked, secrets = check(config, {**old, **new})
    if secrets != dict(old) or not readable:
        return checked, SecretBox.for_settings(settings, create=True).seal(secrets)
    return checked, None


def reseal_rows(settings: Settings, rows: Iterable[Sealed],
                replace: Callable[[str, str], None]) -> tuple[list[str], list[str], str]:
    """Seal the secrets of each of ``rows`` that has some again with the first key (a key rotation's
    middle step), handing ``replace(name, token)`` the new token; (names sealed again, names no key
    opens, the audit's detail)."""
    rows = [r for r in rows if r.secrets]
    done, unreadable = reseal(reading_box(settings, rows), ((r.name, r.secrets) for r in rows), replace)
    detail = f"{len(done)} sealed again" + (f"; unreadable: {', '.join(unreadable)}" if unreadable else "")
    return done, unreadable, detail

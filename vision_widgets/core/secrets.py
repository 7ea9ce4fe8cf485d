"""Secrets at rest: connectors' passwords, keys, tokens and SAS strings, sealed with Fernet.

The key comes from ``VISION_SECRET_KEY`` (``Settings.secret_key``) or, when that is unset, from
``$VISION_HOME/secret.key``, created on first use with mode 0600. Several processes may start at
once (the server, its worker, a CLI call): the file is written under a temporary name and then
*linked* to its final name, which fails if another process got there first — so every process ends
up with the one key that won, and none ever reads a half-written file.

A token sealed with another key (the key file lost, ``VISION_SECRET_KEY`` changed) cannot be
opened: ``SecretsUnreadable`` says so, and the connector's secrets must be re-entered. Nothing here
logs, repeats or returns a secret in a message.
"""
from __future__ import annotations

import json
import os
import secrets as _random
from pathlib import Path
from typing import Mapping

from cryptography.fernet import Fernet, InvalidToken

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import ConfigurationError, VisionError

KEY_FILE = "secret.key"


class SecretsUnreadable(VisionError):
    """Sealed secrets cannot be opened with this key (the key changed or was lost): re-enter them."""

    def __init__(self, message: str = ("These secrets cannot be decrypted (the secret key changed); "
                                       "re-enter them.")) -> None:
        super().__init__(message)


def key_path(settings: Settings) -> Path:
    """Where the key file lives when ``VISION_SECRET_KEY`` is unset."""
    return settings.home / KEY_FILE


def _read_key(path: Path) -> bytes:
    try:
        key = path.read_bytes().strip()
    except OSError as exc:
        raise ConfigurationError(
            f"The secret key file {path} cannot be read ({exc.strerror or exc}); "
            "fix its permissions, or set VISION_SECRET_KEY."
        ) from None
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise ConfigurationError(
            f"The secret key file {path} does not hold a Fernet key; restore it from a backup "
            "(connectors' secrets sealed with it are unreadable without it), or remove it to start "
            "a new one and re-enter every connector's secrets."
        ) from None
    return key


def _create_key(path: Path) -> bytes:
    """The key in ``path``, created (mode 0600) if there is none; one key whoever races for it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{_random.token_hex(6)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(key + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)  # atomic, and fails when another process linked its key first
        except FileExistsError:
            return _read_key(path)
        return key
    finally:
        try:
            temporary.unlink()
        except FileNotFoundError:
            pass


class SecretBox:
    """Seals a mapping of secret values into one token, and opens it again with the same key."""

    def __init__(self, key: bytes | str) -> None:
        self._fernet = Fernet(key)

    def __repr__(self) -> str:  # never the key
        return "SecretBox(<key hidden>)"

    @classmethod
    def for_settings(cls, settings: Settings) -> "SecretBox":
        """The box for this deployment's key: ``VISION_SECRET_KEY``, else the key file (created once)."""
        if settings.secret_key:
            return cls(settings.secret_key)
        path = key_path(settings)
        if path.exists():
            return cls(_read_key(path))
        return cls(_create_key(path))

    def seal(self, values: Mapping[str, str]) -> str:
        """One token holding ``values`` (a JSON object of strings), encrypted and authenticated."""
        clean = {str(k): str(v) for k, v in values.items()}
        return self._fernet.encrypt(json.dumps(clean, sort_keys=True).encode("utf-8")).decode("ascii")

    def open(self, token: str) -> dict[str, str]:
        """The values sealed in ``token``; ``SecretsUnreadable`` if this key cannot open it."""
        try:
            raw = self._fernet.decrypt(token.encode("ascii") if isinstance(token, str) else token)
        except (InvalidToken, ValueError, TypeError, UnicodeEncodeError):
            raise SecretsUnreadable() from None
        try:
            values = json.loads(raw.decode("utf-8"))
        except ValueError:
            raise SecretsUnreadable() from None
        if not isinstance(values, dict):
            raise SecretsUnreadable()
        return {str(k): str(v) for k, v in values.items()}

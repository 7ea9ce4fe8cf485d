"""Secrets at rest: connectors' passwords, keys, tokens and SAS strings, sealed with Fernet.

The key comes from ``VISION_SECRET_KEY`` (``Settings.secret_key``; several keys separated by commas
rotate: the first seals, every one opens) or, when that is unset and the database is SQLite, from
``$VISION_HOME/secret.key``. With another database (PostgreSQL, shared by several machines) the key
must be ``VISION_SECRET_KEY``: a key file is per machine, so each server would seal with its own key
and none could open the others' secrets (``ConfigurationError`` says so).

The key file is created only when something is *sealed* (a connector added, secrets re-entered);
reading never creates one — a missing file with sealed secrets in the database means the key was lost,
and ``KeyMissing`` says that instead of silently starting a new key. It is created with mode 0600 and
refused when group or others may read it (``chmod 600``), as ssh refuses an unprotected private key.
Several processes may create it at once (the server, its worker, a CLI call): the file is written
under a temporary name and then *linked* to its final name, which fails if another process got there
first — so every process ends up with the one key that won, and none ever reads a half-written file.
On a file system without hard links the final name is created exclusively instead, and a reader
that finds it half-written waits a moment for the rest.

A token sealed with another key (the key file lost, ``VISION_SECRET_KEY`` changed) cannot be
opened: ``SecretsUnreadable`` says so, and the connector's secrets must be re-entered. Nothing here
logs, repeats or returns a secret in a message.
"""
from __future__ import annotations

import json
import os
import secrets as _random
import stat
import time
from pathlib import Path
from typing import Callable, Iterable, Mapping

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from vision_widgets.core.config import Settings
from vision_widgets.core.errors import ConfigurationError, VisionError

KEY_FILE = "secret.key"


class SecretsUnreadable(VisionError):
    """Sealed secrets cannot be opened with this key (the key changed or was lost): re-enter them."""

    def __init__(self, message: str = ("These secrets cannot be decrypted (the secret key changed); "
                                       "re-enter them.")) -> None:
        super().__init__(message)


class KeyMissing(SecretsUnreadable):
    """The key file is gone while sealed secrets exist: restore it from a backup, or re-enter them."""

    def __init__(self, path: Path) -> None:
        super().__init__(f"The secret key file {path} is missing, so the connectors' secrets cannot be "
                         "decrypted; restore it from a backup (or set VISION_SECRET_KEY), or re-enter them.")


def key_path(settings: Settings) -> Path:
    """Where the key file lives when ``VISION_SECRET_KEY`` is unset."""
    return settings.home / KEY_FILE


def _check_mode(path: Path) -> None:
    """``ConfigurationError`` when group or others may read or write the key file (POSIX only)."""
    if os.name != "posix":
        return
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise ConfigurationError(
            f"The secret key file {path} may be read by other accounts (mode {mode:04o}); "
            f"make it private with `chmod 600 {path}` (and check who copied it), or set VISION_SECRET_KEY."
        )


def _read_key(path: Path, wait: float = 1.0) -> bytes:
    deadline = time.monotonic() + wait
    while True:
        try:
            _check_mode(path)
            key = path.read_bytes().strip()
        except FileNotFoundError:
            raise KeyMissing(path) from None
        except OSError as exc:
            raise ConfigurationError(
                f"The secret key file {path} cannot be read ({exc.strerror or exc}); "
                "fix its permissions, or set VISION_SECRET_KEY."
            ) from None
        try:
            Fernet(key)
            return key
        except (ValueError, TypeError):
            # Another process may be writing it right now (file systems without hard links).
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
    raise ConfigurationError(
        f"The secret key file {path} does not hold a Fernet key; restore it from a backup "
        "(connectors' secrets sealed with it are unreadable without it), or remove it to start "
        "a new one and re-enter every connector's secrets."
    )


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
        except OSError:  # no hard links here (some network and FUSE file systems): create it exclusively
            return _create_exclusively(path, key)
        return key
    finally:
        try:
            temporary.unlink()
        except FileNotFoundError:
            pass


def _create_exclusively(path: Path, key: bytes) -> bytes:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_key(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(key + b"\n")
        handle.flush()
        os.fsync(handle.fileno())
    return key


def _keys(key: bytes | str) -> list[bytes]:
    raw = key.decode("ascii") if isinstance(key, bytes) else str(key)
    return [k.strip().encode("ascii") for k in raw.split(",") if k.strip()]


class SecretBox:
    """Seals a mapping of secret values into one token, and opens it again with the same key.

    ``key`` may hold several keys separated by commas (rotation): the first seals, any opens."""

    def __init__(self, key: bytes | str) -> None:
        keys = _keys(key)
        if not keys:
            raise ValueError("no key")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    def __repr__(self) -> str:  # never the key
        return "SecretBox(<key hidden>)"

    @classmethod
    def for_settings(cls, settings: Settings, create: bool = False) -> "SecretBox":
        """The box for this deployment's key: ``VISION_SECRET_KEY``, else the key file.

        The key file is created only with ``create`` (a caller about to *seal*); a read finding no
        file raises ``KeyMissing``. Without ``VISION_SECRET_KEY`` on a database other than SQLite:
        ``ConfigurationError`` (each machine would have its own key file)."""
        if settings.secret_key:
            return cls(settings.secret_key)
        if not settings.uses_sqlite:
            raise ConfigurationError(
                "Set VISION_SECRET_KEY (the same value on every server and worker): with a shared database "
                "a key file is per machine, so each would seal connectors' secrets with a key the others "
                "lack. Make one with `python -c \"from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())\"`."
            )
        path = key_path(settings)
        try:
            return cls(_read_key(path))
        except KeyMissing:
            if not create:
                raise
        try:
            return cls(_create_key(path))
        except OSError as exc:  # a read-only or full VISION_HOME: say what to do, not a raw OSError
            raise ConfigurationError(
                f"The secret key file {path} cannot be created ({exc.strerror or type(exc).__name__}); "
                "make VISION_HOME writable, or set VISION_SECRET_KEY."
            ) from None

    def rotate(self, token: str) -> str:
        """``token`` sealed again with the first key (after a rotation); ``SecretsUnreadable`` if no key opens it."""
        try:
            return self._fernet.rotate(token.encode("ascii") if isinstance(token, str) else token).decode("ascii")
        except (InvalidToken, ValueError, TypeError, UnicodeEncodeError):
            raise SecretsUnreadable() from None

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


def reseal(box: "SecretBox | None", sealed: Iterable[tuple[str, str]],
           replace: Callable[[str, str], None]) -> tuple[list[str], list[str]]:
    """Seal each ``(name, token)`` again with ``box``'s first key (the middle step of a key rotation),
    handing the new token to ``replace(name, token)``; (names sealed again, names no key opens).
    ``box`` is ``None`` when no key could be read: every name is then unreadable."""
    done: list[str] = []
    unreadable: list[str] = []
    for name, token in sealed:
        try:
            if box is None:
                raise SecretsUnreadable()
            replace(name, box.rotate(token))
            done.append(name)
        except SecretsUnreadable:
            unreadable.append(name)
    return done, unreadable

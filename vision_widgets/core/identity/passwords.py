"""Argon2id hashing and the password and username rules.

Hashes use argon2-cffi's defaults (Argon2id, RFC 9106 low-memory profile), and
``needs_rehash`` lets a login upgrade an older hash when those defaults move.
"""
from __future__ import annotations

import re

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from vision_widgets.core.errors import InvalidInput

_HASHER = PasswordHasher(type=Type.ID)

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
USERNAME_RE = re.compile(r"^[A-Za-z0-9._-]{3,32}$")



def hash_password(password: str) -> str:
    """An Argon2id hash (PHC string) of ``password``."""
    return _HASHER.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches ``password_hash``; never raises for a mismatch."""
    try:
        return _HASHER.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def burn_verify(password: str) -> None:
    """Spend the time of one verification (for unknown usernames).

    Verifies against ``_DUMMY_HASH``, which exists before the first login attempt
    (see below): an unknown username costs one Argon2 verification, exactly as a
    wrong password does, even on the first try in a fresh process.
    """
    verify_password(_DUMMY_HASH, password)


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with weaker parameters than today's."""
    try:
        return _HASHER.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


#: An Argon2id hash (of a throw-away password) at argon2-cffi's default cost, the cost of
#: every stored hash (``needs_rehash`` upgrades older ones at login). Verifying against it
#: when the username is unknown makes a wrong username take as long as a wrong password,
#: so timing does not tell which accounts exist. It was made once and is written here, so
#: no process pays for an Argon2 hash at import; if the default cost moves (a newer
#: argon2-cffi), a hash at the new cost is made once, at import — never on a login attempt,
#: where it would double the time an unknown username takes.
_PRECOMPUTED_DUMMY = "$argon2id$v=19$m=65536,t=3,p=4$HonudrDup286FLvxwTmuLQ$9ZvexEBG2ilU7441BrWK0/nIKGVjZ4atkEYlSDXtqLU"
_DUMMY_HASH = (_HASHER.hash("vision-ai-timing-equaliser") if needs_rehash(_PRECOMPUTED_DUMMY)
               else _PRECOMPUTED_DUMMY)


def is_argon2id_hash(value: str) -> bool:
    """Whether ``value`` looks like an Argon2id PHC string (users.json holds only these)."""
    return isinstance(value, str) and value.startswith("$argon2id$")


def validate_username(username: str) -> str:
    """Return ``username`` if it is 3–32 letters, digits, ``.``, ``_`` or ``-``."""
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        raise InvalidInput(
            "A username is 3 to 32 characters: letters, digits, '.', '_' or '-' "
            "(no spaces or other symbols)."
        )
    return username


def check_password_policy(username: str, new_password: str, current_password: str | None = None) -> None:
    """Raise ``InvalidInput`` naming the first rule ``new_password`` breaks."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(f"The new password must be at least {MIN_PASSWORD_LENGTH} characters long.")
    if len(new_password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"The new password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    if username and username.lower() in new_password.lower():
        raise InvalidInput("The new password must not contain the username.")
    if current_password is not None and new_password == current_password:
        raise InvalidInput("The new password must be different from the current one.")

"""One root exception with clear subclasses; every message says what to do.

Standard library only: the CLI, the HTTP layer and ``client.py`` import it
without paying for pandas or numpy. ``client.py`` must also run alone on a
client's machine, so it defines the same two classes itself when this package
is absent; inside the package it imports them from here, so there is one
hierarchy.

Errors carry structure, not just words: ``InvalidInput.field`` names the input
that was wrong, and the HTTP layer maps exception *types* to status codes.
"""
from __future__ import annotations

__all__ = [
    "VisionError",
    "InvalidInput",
    "MalformedJSON",
    "AuthenticationError",
    "SessionExpired",
    "AccountLocked",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "ConfigurationError",
    "ConnectorError",
]


class VisionError(Exception):
    """Root of every error Vision AI raises on purpose; the message says what to do."""


class InvalidInput(VisionError, ValueError):
    """The data or request is not usable; the message says what to change.

    ``field`` names the input at fault (a form field, a JSON path such as
    ``production.columns.age``, a CLI option) when there is one, so a caller can
    point at it without parsing the message.
    """

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MalformedJSON(InvalidInput):
    """The body is not JSON at all (or nests too deep): nothing in it could be read."""


class AuthenticationError(VisionError):
    """The caller is not (or no longer) authenticated."""


class SessionExpired(AuthenticationError):
    """The session ended (timed out, logged out, or revoked)."""

    def __init__(self, message: str = "Your session expired — please log in again.") -> None:
        super().__init__(message)


class AccountLocked(AuthenticationError):
    """Too many failed logins; the message says until when."""


class PermissionDenied(VisionError):
    """The acting principal may not do this."""


class NotFound(VisionError):
    """The named thing does not exist."""


class Conflict(VisionError):
    """The change would clash with existing state (duplicate name, last admin…)."""


class ConfigurationError(VisionError):
    """A setting or file the server needs is unusable; the message says which and why."""


class ConnectorError(VisionError):
    """The source could not be reached or read (a host that does not answer, wrong credentials,
    a missing bucket or table, a query that failed).

    The message is plain words for a person and names what to check; it never holds a secret, a
    URL with credentials, or raw library text that might contain them (``core/connectors/errors.py``
    builds it from the exception's class and a scrubbed text).
    """

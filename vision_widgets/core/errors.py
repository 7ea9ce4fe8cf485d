"""One root exception with clear subclasses; every message says what to do.

``VisionError`` and ``InvalidInput`` live in ``vision_widgets.client`` because
that file must run alone on a client's machine; they are re-exported here so
callers import every error from one place.
"""
from __future__ import annotations

from vision_widgets.client import InvalidInput, VisionError

__all__ = [
    "VisionError",
    "InvalidInput",
    "AuthenticationError",
    "SessionExpired",
    "AccountLocked",
    "PermissionDenied",
    "NotFound",
    "Conflict",
    "ConfigurationError",
]


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

"""Logging in and out, and "who is this, now" — for the web app's shell and login page.

The kernel keeps only the ``Principal`` (which carries the session's hash, not
the token): after ``login`` the bearer token is not needed inside the web app.
"""
from __future__ import annotations

from vision_widgets.core import auth
from vision_widgets.core.auth import Principal
from vision_widgets.core.context import Context
from vision_widgets.core.rbac import Permission, require


def login(ctx: Context, username: str, password: str) -> Principal:
    """Check the credentials, open a session, and return who logged in."""
    return auth.login(ctx, username, password).principal


def logout(ctx: Context, principal: Principal) -> None:
    """End this session (idempotent)."""
    auth.logout(ctx, principal)


def current(ctx: Context, principal: Principal) -> Principal:
    """The account behind a live session as it is now (``SessionExpired`` otherwise)."""
    return auth.authenticate(ctx, principal)


def acting(ctx: Context, principal: Principal, permission: Permission) -> Principal:
    """The current principal, if its session is alive and it has ``permission``.

    Every service function starts with this: the session is renewed, and the
    permission is checked against the account as it is now, not at login.
    """
    me = auth.authenticate(ctx, principal)
    require(me, permission)
    return me

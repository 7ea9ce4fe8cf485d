"""Logging in and out, and "who is this, now" — for the web app's shell and login page.

The kernel keeps only the ``Principal`` (which carries the session's hash, not
the token): after ``login`` the bearer token is not needed inside the web app.
"""
from __future__ import annotations

from dataclasses import replace

from vision_widgets.core.context import Context
from vision_widgets.core.errors import AuthenticationError
from vision_widgets.core.identity import auth, session_codes, sessions, users
from vision_widgets.core.identity.principal import Principal, from_row
from vision_widgets.core.identity.rbac import ADMIN, Permission, require


def login(ctx: Context, username: str, password: str) -> Principal:
    """Check the credentials, open a session, and return who logged in."""
    return auth.login(ctx, username, password).principal


def login_for_browser(ctx: Context, username: str, password: str) -> tuple[Principal, str]:
    """Like :func:`login`, plus a single-use code the browser exchanges for its session cookie.

    The token itself never leaves this function: the kernel keeps the principal (the session's
    hash), the browser gets the code (worthless once used or after a minute), and
    ``POST /vision/api/session`` turns the code into the ``HttpOnly`` cookie.
    """
    session = auth.login(ctx, username, password)
    return session.principal, session_codes.issue_cookie_code(ctx, session.token)


def cookie_for_code(ctx: Context, code: str) -> tuple[str, Principal]:
    """The session token to put in the cookie for a cookie code (``SessionExpired`` if it is no good)."""
    return session_codes.redeem_cookie_code(ctx, code)


def resume_code_for_cookie(ctx: Context, token: str) -> str:
    """A code for a new tab's kernel, from the session cookie its page request brought.

    ``SessionExpired`` when the cookie's session has ended (expired, logged out, revoked).
    """
    return session_codes.issue_resume_code(ctx, token)


def resume(ctx: Context, code: str) -> Principal:
    """The principal a new tab resumes with: its page request's code, redeemed (single use)."""
    return session_codes.redeem_resume_code(ctx, code)


def logout(ctx: Context, principal: Principal) -> None:
    """End this session (idempotent)."""
    sessions.logout(ctx, principal)


def logout_token(ctx: Context, token: str) -> None:
    """End the session of a cookie's token, if it is still alive (idempotent; logging out needs no check)."""
    if token:
        sessions.end(ctx, sessions.token_hash(token))


def current(ctx: Context, principal: Principal) -> Principal:
    """The account behind a live session as it is now (``SessionExpired`` otherwise)."""
    return sessions.authenticate(ctx, principal)


def operator(name: str) -> Principal:
    """The principal of the person at the command line, acting as an admin.

    Whoever runs ``vision users …`` can already write the database, so the CLI
    needs no password; it goes through the same services as the browser, so the
    same rules hold (never the last admin, the password policy) and the audit
    log gets the same entries, with ``name`` (``cli:<os user>``) as the actor.
    """
    return Principal(user_id=0, username=name, persona="Operator", role=ADMIN, lob="", sub_lob="",
                     owned_model="", session_id="", is_operator=True)


def on_behalf_of(ctx: Context, username: str) -> Principal:
    """The principal a background job runs as: the account that submitted it, as it is now.

    Only the worker builds one. The tab that submitted the job, and its session,
    may be long gone, so like the operator's it has no session and only its
    permission is checked — against the role the account has *now*: a demoted
    account's queued job runs with the rights it kept, a removed account's not at all.
    """
    with ctx.store.read() as conn:
        row = users.get_row(conn, username)
    if row is None:
        raise AuthenticationError(f"The account {username!r} that submitted this job no longer exists; "
                                  "nothing was done.")
    return replace(from_row(row, session_id=""), is_operator=True)


def acting(ctx: Context, principal: Principal, permission: Permission) -> Principal:
    """The current principal, if its session is alive and it has ``permission``.

    Every service function starts with this: the session is renewed, and the
    permission is checked against the account as it is now, not at login.
    An operator (the CLI) has no session; only its permission is checked.
    """
    if principal.is_operator:
        require(principal, permission)
        return principal
    me = sessions.authenticate(ctx, principal)
    require(me, permission)
    return me

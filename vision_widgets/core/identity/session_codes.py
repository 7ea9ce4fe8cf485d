"""Single-use codes that carry a session between the kernel, the browser and the page request.

In the web app a login happens over the widget protocol, inside the tab's kernel, but the session
must also live in the browser (an ``HttpOnly`` cookie) so that a reload finds it again; and a reload
starts a *new* kernel that must learn which session it serves. Neither hop may carry the session
token itself: the browser can read every widget trait, and Voila passes request data to a kernel
through environment variables (and, for a preheated kernel, keeps it in the server's memory).
So each hop carries a code instead:

``cookie``  issued by the kernel after a login and put in a widget trait; the page posts it to
            ``POST /vision/api/session``, which answers with the session cookie. The row holds the
            session token *sealed* with a key derived from the code (XOR with SHA-512 of the code),
            so neither the table nor the trait alone yields the token, and only the hash of the
            code is stored.
``resume``  issued by the server when a page request brings a live session cookie, passed to the
            new kernel; the kernel redeems it for the principal (which carries the session's hash).

Every code is random (256 bits), lives :data:`CODE_TTL_SECONDS`, and is deleted by the first
redemption: a used, expired or unknown code is worthless, and a code outlives neither a logout nor
a revocation of its session (the row cascades with the session's).
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import delete, select

from vision_widgets.core.context import Context
from vision_widgets.core.errors import SessionExpired
from vision_widgets.core.identity import sessions
from vision_widgets.core.identity.principal import Principal
from vision_widgets.core.storage import schema

#: Seconds a code may wait for its redemption: the page posts a cookie code within a second, and a
#: kernel started without the pool may need several seconds to redeem its resume code.
CODE_TTL_SECONDS = 60

COOKIE = "cookie"
RESUME = "resume"


def _hash(code: str) -> str:
    return hashlib.sha256(code.encode("utf-8")).hexdigest()


def _pad(code: str, n: int) -> bytes:
    key = hashlib.sha512(b"vision-session-cookie\0" + code.encode("utf-8")).digest()
    if n > len(key):
        raise ValueError("token longer than the key")
    return key[:n]


def seal(token: str, code: str) -> str:
    """``token`` XOR a key derived from ``code``, as hex (the code is random and used once)."""
    raw = token.encode("ascii")
    return bytes(a ^ b for a, b in zip(raw, _pad(code, len(raw)))).hex()


def unseal(sealed: str, code: str) -> str:
    raw = bytes.fromhex(sealed)
    return bytes(a ^ b for a, b in zip(raw, _pad(code, len(raw)))).decode("ascii")


def _issue(ctx: Context, purpose: str, session_hash: str, token: str | None = None) -> str:
    code = secrets.token_urlsafe(32)
    now = ctx.now()
    with ctx.store.write() as conn:
        conn.execute(delete(schema.session_codes).where(schema.session_codes.c.expires_at <= now))
        conn.execute(schema.session_codes.insert().values(
            code_hash=_hash(code), purpose=purpose, session_hash=session_hash,
            sealed=seal(token, code) if token is not None else None,
            expires_at=now + timedelta(seconds=CODE_TTL_SECONDS),
        ))
    return code


def _redeem(ctx: Context, purpose: str, code: str):
    """Delete the code's row and return it if it was this purpose's and unexpired, else raise."""
    if not code or len(code) > 128:
        raise SessionExpired()
    c = schema.session_codes
    digest = _hash(code)
    with ctx.store.write() as conn:
        row = conn.execute(select(c).where(c.c.code_hash == digest)).mappings().first()
        # Deleted whatever it was for: a code presented at the wrong door is burnt too. Only the
        # transaction whose delete removed the row may use it (two racing redemptions: one wins).
        gone = conn.execute(delete(c).where(c.c.code_hash == digest)).rowcount
    if row is None or gone != 1 or row["purpose"] != purpose or row["expires_at"] <= ctx.now():
        raise SessionExpired()
    return row


def issue_cookie_code(ctx: Context, token: str) -> str:
    """A code the browser exchanges for a cookie holding ``token`` (the kernel calls it after a login)."""
    return _issue(ctx, COOKIE, sessions.token_hash(token), token)


def redeem_cookie_code(ctx: Context, code: str) -> tuple[str, Principal]:
    """The session token and its (live, renewed) principal for a cookie code; ``SessionExpired`` otherwise."""
    row = _redeem(ctx, COOKIE, code)
    token = unseal(row["sealed"] or "", code)
    if sessions.token_hash(token) != row["session_hash"]:
        raise SessionExpired()
    return token, sessions.resume(ctx, token)


def issue_resume_code(ctx: Context, token: str) -> str:
    """A code a new kernel redeems for the session of ``token`` (``SessionExpired`` if it has ended)."""
    principal = sessions.resume(ctx, token)
    return _issue(ctx, RESUME, principal.session_id)


def redeem_resume_code(ctx: Context, code: str) -> Principal:
    """The (live, renewed) principal behind a resume code; ``SessionExpired`` otherwise."""
    row = _redeem(ctx, RESUME, code)
    return sessions.by_id(ctx, row["session_hash"])

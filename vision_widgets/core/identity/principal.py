"""Who is acting: an account, its role, and the session it acts through.

Its own module so that auth, sessions, rbac and users all import it and none
of them imports another just for the type (no cycle).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping


@dataclass(frozen=True)
class Principal:
    """Who is acting: the account and the session it acts through."""

    user_id: int
    username: str
    persona: str
    role: str
    lob: str
    sub_lob: str
    owned_model: str
    # The SHA-256 of the session token, so services can check the session is
    # still alive. The token itself is never kept after login.
    session_id: str = field(repr=False, compare=False)
    # The person at the command line (``vision users …``), who can write the
    # database anyway: acts with a role but without an account or a session.
    # Only the CLI builds one (``services.sessions.operator``), and the worker for the
    # account a job runs as (``services.sessions.on_behalf_of``); no view or handler does.
    is_operator: bool = field(default=False, compare=False)


def from_row(row: Mapping[str, Any], session_id: str) -> Principal:
    """The principal for an account row (``users`` table) acting through ``session_id``."""
    return Principal(
        user_id=row["id"],
        username=row["username"],
        persona=row["persona"],
        role=row["role"],
        lob=row["lob"],
        sub_lob=row["sub_lob"],
        owned_model=row["owned_model"],
        session_id=session_id,
    )

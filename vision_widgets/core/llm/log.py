"""The LLM chat log (``llm_log``): every prompt, tool call and answer, with who asked, about which model,
and which endpoint answered — and the ``llm.record`` setting that turns recording off.

Rows are written one at a time as a conversation goes (a prompt before the endpoint is asked, the
answer once it is complete), so an answer that never finishes still leaves its prompt behind. The
endpoint is always a base URL without credentials (``client.public_url``).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from vision_widgets.core.storage import schema
from vision_widgets.core.storage.engine import upsert

#: The app setting that turns recording on or off (JSON true/false; on when absent).
RECORD_KEY = "llm.record"

PROMPT = "prompt"
TOOL_CALL = "tool_call"
ANSWER = "answer"
FALLBACK = "fallback"
FAQ = "faq"
KINDS = (PROMPT, TOOL_CALL, ANSWER, FALLBACK, FAQ)


@dataclass(frozen=True)
class LogEntry:
    """One recorded message."""

    at: datetime
    conversation: str
    username: str
    model: str
    endpoint: str
    kind: str
    content: str


def recording(conn: Connection) -> bool:
    """Whether prompts and answers are recorded (``llm.record``; on when the setting is absent)."""
    t = schema.app_settings
    raw = conn.execute(select(t.c.value).where(t.c.key == RECORD_KEY)).scalar_one_or_none()
    if raw is None:
        return True
    try:
        return bool(json.loads(raw))
    except ValueError:
        return True


def set_recording(conn: Connection, on: bool, by: str, at: datetime) -> None:
    """Store ``llm.record`` (inside the caller's transaction, which also writes the audit entry)."""
    upsert(conn, schema.app_settings, {"key": RECORD_KEY}, {"value": json.dumps(bool(on)), "updated_by": by, "updated_at": at})


def write(conn: Connection, at: datetime, conversation: str, username: str, model: str, endpoint: str,
          kind: str, content: str) -> None:
    """Append one row (the caller checked ``recording``)."""
    conn.execute(schema.llm_log.insert().values(at=at, conversation=conversation[:36], username=username,
                                                model=model[:128], endpoint=endpoint[:255], kind=kind,
                                                content=content))


def entries(conn: Connection, limit: int = 200, username: str | None = None) -> list[LogEntry]:
    """The newest ``limit`` rows, newest first (one account's when ``username`` is given)."""
    t = schema.llm_log
    q = select(t)
    if username:
        q = q.where(t.c.username == username)
    rows = conn.execute(q.order_by(t.c.at.desc(), t.c.id.desc()).limit(limit)).mappings()
    return [LogEntry(r["at"], r["conversation"], r["username"], r["model"], r["endpoint"], r["kind"], r["content"])
            for r in rows]

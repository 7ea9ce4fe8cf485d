"""What a conversation is made of, and the events an answer streams as (the agreed interface).

``services/llm_chat.py`` re-exports these names; the page consumes them. All frozen: an event is a
value, replaced, never changed.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

USER = "user"
ASSISTANT = "assistant"

#: Where an answer came from.
SOURCE_LLM = "llm"
SOURCE_FALLBACK = "fallback"  # written without the LLM (deterministic summary, or the closest FAQ entries)
SOURCE_FAQ = "faq"  # answered from the FAQ file


@dataclass(frozen=True)
class Fact:
    """One number or fact given to the LLM, e.g. ``("PSI of income (window 2026-W40)", "0.31")``.

    ``data`` carries the same fact as structure for code that reasons on it (the fallback summary
    reads a window's verdict or a section's true count from it, never from the wording); it is not
    part of the text the LLM reads nor of a fact's equality."""

    label: str
    value: str
    data: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Turn:
    """One message of the visible conversation: ``role`` is "user" or "assistant"."""

    role: str
    content: str


@dataclass(frozen=True)
class Facts:
    """First event of an answer, once: every fact the answer was given (the "numbers used")."""

    facts: tuple[Fact, ...]


@dataclass(frozen=True)
class Delta:
    """The next streamed piece of the answer (Markdown)."""

    text: str


@dataclass(frozen=True)
class ToolUse:
    """The LLM called a read-only tool; ``ok`` False when it was refused or failed (``summary`` says why)."""

    name: str
    arguments: str
    ok: bool
    summary: str


@dataclass(frozen=True)
class Done:
    """Last event of an answer, once: the whole answer and where it came from.

    ``source`` is "llm", "fallback" (written without the LLM, labelled as such) or "faq" (from the
    FAQ file; ``matched_question`` is the entry's question). ``notice`` is a plain sentence for the
    user when the LLM was not used or failed.
    """

    answer: str
    source: str
    notice: str = ""
    matched_question: str = ""

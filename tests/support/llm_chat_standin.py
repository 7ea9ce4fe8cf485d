"""The agreed interface of ``services/llm_chat.py`` (issue 13), for the page's tests until the
llm-core branch is merged: installed as that module only when the real one is missing, and every
test replaces its functions with fakes anyway. Delete once llm-core is merged."""
from __future__ import annotations

import sys
import types
from dataclasses import dataclass


@dataclass(frozen=True)
class Fact:
    label: str
    value: str


@dataclass(frozen=True)
class Turn:
    role: str
    content: str


@dataclass(frozen=True)
class Facts:
    facts: tuple


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class ToolUse:
    name: str
    arguments: str
    ok: bool
    summary: str


@dataclass(frozen=True)
class Done:
    answer: str
    source: str
    notice: str = ""
    matched_question: str = ""


@dataclass(frozen=True)
class LlmStatus:
    configured: bool
    endpoint: str
    model: str


def install() -> None:
    """Make ``vision_widgets.services.llm_chat`` importable (the stand-in) if the real one is missing."""
    try:
        import vision_widgets.services.llm_chat  # noqa: F401
        return
    except ModuleNotFoundError:
        pass
    module = types.ModuleType("vision_widgets.services.llm_chat")
    for name in ("Fact", "Turn", "Facts", "Delta", "ToolUse", "Done", "LlmStatus"):
        setattr(module, name, globals()[name])

    def missing(*_args, **_kwargs):
        raise NotImplementedError("services.llm_chat is built on the llm-core branch")

    for name in ("status", "ask_about_model", "ask_faq", "log_entries", "set_recording", "recording"):
        setattr(module, name, missing)
    import vision_widgets.services as services

    sys.modules[module.__name__] = module
    services.llm_chat = module

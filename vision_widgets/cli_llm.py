"""``vision llm log [--user U] [--limit N] [--json]`` and ``vision llm record on|off``: the LLM chat log for
operators.

The command acts as an operator (an admin without a session, like ``vision users``) through the same
service as the Monitoring page, so the same permission and the same audit entries apply. The log holds
no API key (endpoints are recorded without credentials), so it is printed as it is.
"""
from __future__ import annotations

import argparse
import json


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``vision llm …`` to the ``vision`` parser."""
    p = sub.add_parser("llm", help="the LLM chat's log of prompts, tool calls and answers, and its recording switch")
    lsub = p.add_subparsers(dest="llm_command", required=True)

    c = lsub.add_parser("log", help="the newest recorded prompts, tool calls and answers, newest first")
    c.add_argument("--user", default=None, help="only this account's")
    c.add_argument("--limit", type=int, default=50, help="how many rows (default 50)")
    c.add_argument("--json", action="store_true", help="print JSON (one object per row)")
    c.set_defaults(func=cmd_log)

    c = lsub.add_parser("record", help="turn recording of LLM chat prompts and answers on or off")
    c.add_argument("state", choices=("on", "off"))
    c.set_defaults(func=cmd_record)


def _principal():
    from vision_widgets.cli import _operator
    from vision_widgets.services.sessions import operator

    return operator(_operator())


def _context():
    from vision_widgets.cli import _context as context

    return context()


def cmd_log(args: argparse.Namespace) -> int:
    from vision_widgets.services import llm_chat

    ctx = _context()
    entries = llm_chat.log_entries(ctx, _principal(), limit=args.limit, username=args.user)
    if args.json:
        print(json.dumps([{"at": e.at.isoformat(), "conversation": e.conversation, "user": e.username,
                           "model": e.model, "endpoint": e.endpoint, "kind": e.kind, "content": e.content}
                          for e in entries], indent=2))
        return 0
    if not llm_chat.recording(ctx):
        print("(recording is off: `vision llm record on` turns it back on)")
    if not entries:
        print("No LLM chat messages recorded.")
        return 0
    for e in entries:
        about = e.model or "FAQ"
        where = e.endpoint or "no LLM"
        print(f"{e.at:%Y-%m-%d %H:%M:%S}  {e.username}  {about}  {e.kind}  [{where}]  conversation {e.conversation[:8]}")
        for line in e.content.splitlines() or [""]:
            print(f"    {line}")
    return 0


def cmd_record(args: argparse.Namespace) -> int:
    from vision_widgets.services import llm_chat

    on = args.state == "on"
    llm_chat.set_recording(_context(), _principal(), on)
    print("LLM chat prompts and answers are now recorded." if on else
          "LLM chat prompts and answers are no longer recorded.")
    return 0

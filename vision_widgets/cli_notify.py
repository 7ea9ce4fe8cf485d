"""``vision notifications run | list | drop``: the notification rules for operators and pipelines.

``run`` runs every rule once in this process (what the worker does every five minutes; a pipeline
that just added data, or a machine without a worker, can call it). ``list`` prints what an admin
receives, newest first. ``drop`` shows or sets the performance drop that raises a notification. The
command acts as an operator (an admin without a session, like ``vision users``) through the same
services as the Notifications page, so the same checks and audit entries apply.
"""
from __future__ import annotations

import argparse
import json


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``vision notifications …`` to the ``vision`` parser."""
    p = sub.add_parser("notifications", help="notification rules: run them, list what they found, set the drop")
    nsub = p.add_subparsers(dest="notifications_command", required=True)
    c = nsub.add_parser("run", help="run every notification rule once (the worker does it every 5 minutes)")
    c.set_defaults(func=cmd_run)
    c = nsub.add_parser("list", help="the notifications, newest first (as an admin receives them)")
    c.add_argument("--model", default="", help="only this model's")
    c.add_argument("--kind", default="", help="drift, performance, stale, awaiting_metrics or health")
    c.add_argument("--limit", type=int, default=50)
    c.add_argument("--json", action="store_true", help="print JSON (stable shape for scripts)")
    c.set_defaults(func=cmd_list)
    c = nsub.add_parser("drop", help="show, or set, the performance drop that raises a notification")
    c.add_argument("value", nargs="?", default=None, help="a number between 0 and 1 (absolute), e.g. 0.05")
    c.set_defaults(func=cmd_drop)


def _context():
    from vision_widgets.cli import _context as context

    return context()


def _principal():
    from vision_widgets.cli import _operator_principal

    return _operator_principal()


def cmd_run(args: argparse.Namespace) -> int:
    from vision_widgets.services import notification_runs

    result = notification_runs.run_rules(_context())
    print(f"Judged {result.models} model(s): {result.due} cause(s) seen, {result.stored} new notification(s).")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from vision_widgets.services import notifications

    found = notifications.list_notifications(_context(), _principal(), model=args.model, kind=args.kind,
                                             limit=args.limit)
    if args.json:
        print(json.dumps([{"id": n.id, "kind": n.kind, "model": n.model or None, "created_at": n.created_at.isoformat(),
                           "title": n.title, "body": dict(n.body), "link": n.link} for n in found.items], indent=2))
        return 0
    for n in found.items:
        print(f"{n.created_at:%Y-%m-%d %H:%M}  {n.kind:<17}{n.title}")
    if not found.items:
        print("No notifications.")
    return 0


def cmd_drop(args: argparse.Namespace) -> int:
    from vision_widgets.services import notifications

    ctx = _context()
    if args.value is None:
        print(f"{notifications.performance_drop(ctx, _principal()):g}")
        return 0
    drop = notifications.set_performance_drop(ctx, _principal(), args.value)
    print(f"Performance drop set to {drop:g}: a larger drop below the training data raises a notification.")
    return 0

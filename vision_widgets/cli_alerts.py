"""``vision alerts channels | add | update | remove | test | log | retry | reseal``: alert delivery for operators.

The command acts as an operator (an admin without a session, like ``vision connectors``) through
the same service as the Alert delivery page, so the same checks and audit entries apply.

Secrets (a webhook's URL, an SMTP password) never come from the command line (arguments are
visible to every user in the process list): ``--secret FIELD`` asks for it (or reads one line of
standard input per secret when it is not a terminal), ``--secret-env FIELD=ENVVAR`` reads it from
the environment. A secret given with ``--set`` is refused.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_FAILED = 1


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vision alerts …`` to the ``vision`` parser."""
    p = sub.add_parser("alerts", help="alert delivery: webhook and e-mail channels, the delivery log, retries")
    asub = p.add_subparsers(dest="alerts_command", required=True)

    c = asub.add_parser("channels", help="list the alert channels and their delivery counts")
    c.add_argument("--json", action="store_true", help="print JSON (never a secret)")
    c.set_defaults(func=cmd_channels)

    for name, helptext in (("add", "add a channel (secrets are asked for, never given as arguments)"),
                           ("update", "change a channel's settings, secrets, line of business or state")):
        c = asub.add_parser(name, help=helptext)
        c.add_argument("name", help="1–32 letters, digits, . _ -")
        if name == "add":
            c.add_argument("--kind", required=True, choices=("webhook", "email"))
        c.add_argument("--lob", default=None, help="the line of business it receives ('' or omitted on add: all)")
        c.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                       help="a setting: webhook format, timeout; email host, port, security, username, sender, "
                            "to (comma-separated), ca_file, timeout")
        c.add_argument("--secret", action="append", default=[], metavar="FIELD",
                       help="url (webhook) or password (email), asked for (or read from standard input)")
        c.add_argument("--secret-env", action="append", default=[], metavar="FIELD=ENVVAR",
                       help="a secret read from the environment variable ENVVAR")
        if name == "update":
            state = c.add_mutually_exclusive_group()
            state.add_argument("--enable", dest="enabled", action="store_const", const=True, default=None)
            state.add_argument("--disable", dest="enabled", action="store_const", const=False)
        c.set_defaults(func=cmd_add if name == "add" else cmd_update)

    c = asub.add_parser("remove", help="remove a channel and its delivery log")
    c.add_argument("name")
    c.set_defaults(func=cmd_remove)

    c = asub.add_parser("reseal", help="seal every channel's secrets with the first key of VISION_SECRET_KEY")
    c.set_defaults(func=cmd_reseal)

    c = asub.add_parser("test", help="send a test message now: 'sent' or why not (exit 1)")
    c.add_argument("name")
    c.set_defaults(func=cmd_test)

    c = asub.add_parser("log", help="the delivery log, newest first")
    c.add_argument("--state", default="", choices=("", "queued", "retrying", "sent", "failed"))
    c.add_argument("--channel", default="")
    c.add_argument("--limit", type=int, default=50)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_log)

    c = asub.add_parser("retry", help="send a failed delivery again (the worker does, within a minute)")
    target = c.add_mutually_exclusive_group(required=True)
    target.add_argument("id", nargs="?", type=int, help="the delivery's number (`vision alerts log`)")
    target.add_argument("--all-failed", action="store_true", help="every failed delivery (of --channel)")
    c.add_argument("--channel", default="")
    c.set_defaults(func=cmd_retry)


def _principal():
    from vision_widgets.cli import _operator
    from vision_widgets.services.sessions import operator

    return operator(_operator())


def _context():
    from vision_widgets.cli import _context as context

    return context()


def _secrets(args: argparse.Namespace, kind: str) -> tuple[dict, dict]:
    """``--set`` pairs (a secret among them refused) and the secrets of ``--secret-env``/``--secret``."""
    import getpass

    from vision_widgets.cli_connectors import _pairs
    from vision_widgets.core.errors import InvalidInput
    from vision_widgets.core.notify.channels import SECRET_FIELDS

    secret_fields = set(SECRET_FIELDS[kind])
    config: dict = _pairs(args.set, "--set")
    for key in config:
        if key in secret_fields:
            raise InvalidInput(f"{key} is a secret: never give it as an argument (every user can read the process "
                               f"list); use --secret {key} (asked for) or --secret-env {key}=ENVVAR.", field="--set")
    if "to" in config:
        config["to"] = [a.strip() for a in config["to"].split(",") if a.strip()]
    secrets: dict[str, str] = {}
    for key, var in _pairs(args.secret_env, "--secret-env").items():
        if var not in os.environ:
            raise InvalidInput(f"The environment variable {var} (for {key}) is not set.", field="--secret-env")
        secrets[key] = os.environ[var]
    for key in args.secret:
        if key not in secret_fields:
            raise InvalidInput(f"{key} is not a secret of a {kind} channel; its secret is "
                               f"{', '.join(sorted(secret_fields))}.", field="--secret")
        secrets[key] = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass(f"{key}: ")
    return config, secrets


def cmd_channels(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    found = alerts.list_channels(_context(), _principal())
    if args.json:
        print(json.dumps([{"name": c.name, "kind": c.kind, "lob": c.lob, "enabled": c.enabled, "config": c.config,
                           "secrets_set": list(c.secrets_set), "readable": c.readable, "sent": c.sent,
                           "failed": c.failed, "waiting": c.pending} for c in found], indent=2))
        return 0
    print(f"{'name':<22}{'kind':<9}{'lob':<18}{'enabled':<9}{'sent':>6}{'failed':>8}{'waiting':>9}  sends to")
    for c in found:
        to = c.sends_to if c.readable else "secrets unreadable: re-enter them"
        print(f"{c.name:<22}{c.kind:<9}{(c.lob or 'all'):<18}{('yes' if c.enabled else 'no'):<9}"
              f"{c.sent:>6}{c.failed:>8}{c.pending:>9}  {to}")
    return 0


def cmd_add(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    config, secrets = _secrets(args, args.kind)
    info = alerts.add_channel(_context(), _principal(), args.name, args.kind, args.lob or "", config, secrets)
    print(f"Added {info.kind} channel {info.name} for {info.lob or 'every line of business'}"
          + (f"; secrets sealed: {', '.join(info.secrets_set)}" if info.secrets_set else "") + ".")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from vision_widgets.core.errors import InvalidInput
    from vision_widgets.services import alerts

    ctx, me = _context(), _principal()
    current = alerts.get_channel(ctx, me, args.name)
    changes, secrets = _secrets(args, current.kind)
    if not changes and not secrets and args.lob is None and args.enabled is None:
        raise InvalidInput("Nothing to change: give --set, --secret, --secret-env, --lob, --enable or --disable.",
                           field="name")
    config = {**current.config, **changes} if changes else None
    info = alerts.update_channel(ctx, me, current.name, config=config, secrets=secrets or None, lob=args.lob,
                                 enabled=args.enabled)
    print(f"Updated channel {info.name}" + (f"; secrets re-entered: {', '.join(sorted(secrets))}" if secrets else "")
          + ("" if info.readable else "; its secrets still cannot be decrypted: re-enter them with --secret") + ".")
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    alerts.remove_channel(_context(), _principal(), args.name)
    print(f"Removed channel {args.name} and its delivery log.")
    return 0


def cmd_reseal(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    done, unreadable = alerts.reseal(_context(), _principal())
    print(f"Sealed again with the first key: {len(done)} channel(s)"
          + (f"; cannot be decrypted with any key (re-enter them): {', '.join(unreadable)}" if unreadable else "") + ".")
    return EXIT_FAILED if unreadable else 0


def cmd_test(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    outcome = alerts.test_channel(_context(), _principal(), args.name)
    print(f"sent: {outcome.message}" if outcome.ok else f"failed: {outcome.message}")
    return 0 if outcome.ok else EXIT_FAILED


def cmd_log(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    rows = alerts.delivery_log(_context(), _principal(), args.state, args.channel, args.limit)
    if args.json:
        print(json.dumps([{"id": d.id, "channel": d.channel, "notification": d.title, "model": d.model,
                           "state": d.state, "attempts": d.attempts, "created_at": d.created_at.isoformat(),
                           "next_attempt_at": d.next_attempt_at.isoformat() if d.next_attempt_at else None,
                           "sent_at": d.sent_at.isoformat() if d.sent_at else None, "error": d.error}
                          for d in rows], indent=2))
        return 0
    print(f"{'#':>6}  {'channel':<18}{'state':<10}{'tries':>5}  {'next attempt':<17}notification")
    for d in rows:
        nxt = f"{d.next_attempt_at:%Y-%m-%d %H:%M}" if d.next_attempt_at and d.state in ("queued", "retrying") else "-"
        print(f"{d.id:>6}  {d.channel:<18}{d.state:<10}{d.attempts:>5}  {nxt:<17}{d.title}")
        if d.error:
            print(f"{'':>8}reason: {d.error}")
    return 0


def cmd_retry(args: argparse.Namespace) -> int:
    from vision_widgets.services import alerts

    if args.all_failed:
        count = alerts.retry_failed(_context(), _principal(), args.channel)
        print(f"{count} failed deliver{'y' if count == 1 else 'ies'} will be sent again within a minute.")
        return 0
    alerts.retry(_context(), _principal(), args.id)
    print(f"Delivery {args.id} will be sent again within a minute.")
    return 0

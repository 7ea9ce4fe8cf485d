"""``vision connectors list | types | add | update | test | remove | reseal``: stored connectors for
operators and pipelines.

The command acts as an operator (an admin without a session, like ``vision users``) through the
same service as the Connectors page, so the same checks and audit entries apply.

Secret values never come from the command line (arguments are visible to every user in the
process list): ``--secret FIELD`` asks for it (or reads one line of standard input per secret,
in the order given, when it is not a terminal), ``--secret-env FIELD=ENVVAR`` reads it from the
environment (pipelines). A secret field given with ``--set`` is refused.

``update`` changes only what it is given: ``--set`` and ``--unset`` edit the stored settings (the
others stay), ``--secret``/``--secret-env`` replace those secrets (the others stay; all of them when
the stored ones cannot be decrypted). ``reseal`` seals every connector's secrets again with the first
key of ``VISION_SECRET_KEY`` (after adding a new key in front of the old one), so the old key can go.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

EXIT_TEST_FAILED = 1


def register(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add ``vision connectors …`` to the ``vision`` parser."""
    p = sub.add_parser("connectors", help="stored connectors to where models' data lives (operators, pipelines)")
    csub = p.add_subparsers(dest="connectors_command", required=True)

    c = csub.add_parser("list", help="list the stored connectors and their last test")
    c.add_argument("--json", action="store_true", help="print JSON (stable shape for scripts; never a secret)")
    c.set_defaults(func=cmd_list)

    c = csub.add_parser("types", help="the connector types and their settings")
    c.set_defaults(func=cmd_types)

    c = csub.add_parser("add", help="store a new connector (secrets are asked for, never given as arguments)")
    c.add_argument("name", help="1–32 letters, digits, . _ -")
    c.add_argument("--type", required=True, dest="type_name", help="local, sql, s3, azure_blob, delta, databricks_sql")
    c.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="a setting (not a secret)")
    c.add_argument("--secret", action="append", default=[], metavar="FIELD",
                   help="a secret field, asked for (or read from standard input, one line each)")
    c.add_argument("--secret-env", action="append", default=[], metavar="FIELD=ENVVAR",
                   help="a secret field read from the environment variable ENVVAR")
    c.add_argument("--description", default="")
    c.set_defaults(func=cmd_add)

    c = csub.add_parser("update", help="change a connector's settings, secrets or description (the rest stays)")
    c.add_argument("name")
    c.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE", help="change a setting (not a secret)")
    c.add_argument("--unset", action="append", default=[], metavar="FIELD", help="clear a setting (its default applies)")
    c.add_argument("--secret", action="append", default=[], metavar="FIELD",
                   help="re-enter a secret field, asked for (or read from standard input, one line each)")
    c.add_argument("--secret-env", action="append", default=[], metavar="FIELD=ENVVAR",
                   help="a secret field read from the environment variable ENVVAR")
    c.add_argument("--description", default=None)
    c.set_defaults(func=cmd_update)

    c = csub.add_parser("reseal", help="seal every connector's secrets with the first key of VISION_SECRET_KEY")
    c.set_defaults(func=cmd_reseal)

    c = csub.add_parser("test", help="try a connector: ok with latency and a sample, or the error (exit 1)")
    c.add_argument("name")
    c.add_argument("--timeout", type=float, default=10.0, help="seconds to wait (default 10)")
    c.set_defaults(func=cmd_test)

    c = csub.add_parser("remove", help="remove a connector (refused while models use it, unless they move)")
    c.add_argument("name")
    c.add_argument("--move-models-to", default=None, metavar="OTHER", help="move its models to this connector first")
    c.set_defaults(func=cmd_remove)


def _principal():
    from vision_widgets.cli import _operator
    from vision_widgets.services.sessions import operator

    return operator(_operator())


def _context():
    from vision_widgets.cli import _context as context

    return context()


def _pairs(items: list[str], option: str) -> dict[str, str]:
    from vision_widgets.core.errors import InvalidInput

    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{option} takes FIELD=VALUE (got {item.split('=')[0][:40]!r}…).", field=option)
        found[key.strip()] = value
    return found


def _ask_secret(field: str, label: str) -> str:
    import getpass

    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(f"{label}: ")


def cmd_list(args: argparse.Namespace) -> int:
    from vision_widgets.services import connectors

    ctx = _context()
    found = connectors.list_connectors(ctx, _principal())
    if args.json:
        print(json.dumps([{
            "name": c.name, "type": c.type, "title": c.title, "description": c.description,
            "config": c.config, "secrets_set": list(c.secrets_set), "readable": c.readable,
            "models": list(c.models),
            "last_test": None if c.last_test_at is None else {
                "at": c.last_test_at.isoformat(), "ok": c.last_test_ok, "latency_ms": c.last_test_ms,
                "message": c.last_test_message},
        } for c in found], indent=2, default=str))
        return 0
    print(f"{'name':<22}{'type':<16}{'models':>7}  {'last test':<28}description")
    for c in found:
        if not c.readable:
            last = "secrets unreadable"
        elif c.last_test_at is None:
            last = "never tested"
        else:
            outcome = ("ok" + ("" if c.last_test_ms is None else f", {c.last_test_ms:.0f} ms")) if c.last_test_ok else "failed"
            last = f"{outcome} at {c.last_test_at:%Y-%m-%d %H:%M}"
        print(f"{c.name:<22}{c.type:<16}{len(c.models):>7}  {last:<28}{c.description}")
    return 0


def cmd_types(args: argparse.Namespace) -> int:
    from vision_widgets.services import connectors

    for t in connectors.list_types(_context(), _principal()):
        print(f"{t.type} — {t.title}")
        for f in t.fields:
            flags = ", ".join(x for x in ("secret: --secret" if f.secret else "", "required" if f.required else "") if x)
            print(f"    {f.name:<20}{f.label}" + (f" ({flags})" if flags else ""))
    return 0


def _settings_and_secrets(args: argparse.Namespace, ctype) -> tuple[dict[str, str], dict[str, str]]:
    """``--set`` pairs (a secret among them refused) and the secrets of ``--secret-env``/``--secret``."""
    from vision_widgets.core.errors import InvalidInput

    fields = {f.name: f for f in ctype.fields}
    secret_fields = {name for name, f in fields.items() if f.secret}
    config = _pairs(args.set, "--set")
    for key in config:
        if key in secret_fields:
            raise InvalidInput(f"{key} is a secret: never give it as an argument (every user can read the process "
                               f"list); use --secret {key} (asked for) or --secret-env {key}=ENVVAR.", field="--set")
    secrets: dict[str, str] = {}
    for key, var in _pairs(args.secret_env, "--secret-env").items():
        if var not in os.environ:
            raise InvalidInput(f"The environment variable {var} (for {key}) is not set.", field="--secret-env")
        secrets[key] = os.environ[var]
    for key in args.secret:
        if key not in secret_fields:
            raise InvalidInput(f"{key} is not a secret field of a {ctype.title} connector; its secret fields are: "
                               f"{', '.join(sorted(secret_fields)) or 'none'}.", field="--secret")
        secrets[key] = _ask_secret(key, fields[key].label)
    return config, secrets


def cmd_add(args: argparse.Namespace) -> int:
    from vision_widgets.core.connectors import type_of
    from vision_widgets.services import connectors

    ctx = _context()
    me = _principal()
    ctype = type_of(args.type_name)
    config, secrets = _settings_and_secrets(args, ctype)
    info = connectors.add_connector(ctx, me, args.name, ctype.type, config, secrets, description=args.description)
    print(f"Added connector {info.name} ({info.title})" + (f"; secrets sealed: {', '.join(info.secrets_set)}"
                                                        if info.secrets_set else "") + ".")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    from vision_widgets.core.connectors import type_of
    from vision_widgets.core.errors import InvalidInput
    from vision_widgets.services import connectors

    ctx = _context()
    me = _principal()
    current = connectors.get_connector(ctx, me, args.name)
    ctype = type_of(current.type)
    changes, secrets = _settings_and_secrets(args, ctype)
    known = {f.name for f in ctype.fields if not f.secret}
    for key in args.unset:
        if key not in known:
            raise InvalidInput(f"{key} is not a setting of a {ctype.title} connector; its settings are: "
                               f"{', '.join(sorted(known)) or 'none'}.", field="--unset")
    config = None
    if changes or args.unset:
        config = {k: v for k, v in current.config.items() if k not in args.unset}
        config.update(changes)
    if config is None and not secrets and args.description is None:
        raise InvalidInput("Nothing to change: give --set, --unset, --secret, --secret-env or --description.",
                           field="name")
    info = connectors.update_connector(ctx, me, current.name, config=config, secrets=secrets or None,
                                       description=args.description)
    print(f"Updated connector {info.name}" + (f"; secrets re-entered: {', '.join(sorted(secrets))}" if secrets else "")
          + ("" if info.readable else "; its secrets still cannot be decrypted: re-enter them with --secret") + ".")
    return 0


def cmd_reseal(args: argparse.Namespace) -> int:
    from vision_widgets.services import connectors

    done, unreadable = connectors.reseal(_context(), _principal())
    print(f"Sealed again with the first key: {len(done)} connector(s)"
          + (f"; cannot be decrypted with any key (re-enter them): {', '.join(unreadable)}" if unreadable else "") + ".")
    return EXIT_TEST_FAILED if unreadable else 0


def cmd_test(args: argparse.Namespace) -> int:
    from vision_widgets.core.errors import ConnectorError
    from vision_widgets.services import connectors

    try:
        result = connectors.test_connector(_context(), _principal(), args.name, timeout=args.timeout)
    except ConnectorError as exc:
        print(f"failed: {exc}")
        return EXIT_TEST_FAILED
    if not result.ok:
        print(f"failed after {result.latency_ms:.0f} ms: {result.message}")
        return EXIT_TEST_FAILED
    print(f"ok: {result.latency_ms:.0f} ms" + (f"; {result.message}" if result.message else ""))
    if result.sample:
        print("sees: " + ", ".join(result.sample))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    from vision_widgets.services import connectors

    ctx = _context()
    me = _principal()
    moved = connectors.get_connector(ctx, me, args.name).models if args.move_models_to else ()
    connectors.remove_connector(ctx, me, args.name, move_models_to=args.move_models_to)
    print(f"Removed connector {args.name}" + (f"; {len(moved)} model(s) moved to {args.move_models_to}" if moved else "") + ".")
    return 0

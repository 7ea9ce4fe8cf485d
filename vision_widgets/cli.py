"""The ``vision`` command line: the main jobs without a browser.

Each job lives in its own ``cmd_*`` function; heavy imports happen inside
them so ``vision --help`` stays instant. Every ``VisionError`` is printed as
a one-line message and exits 2.
"""
from __future__ import annotations

import argparse
import sys
from typing import Callable, Sequence

from vision_widgets.core.errors import VisionError

EXIT_INPUT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vision", description="Vision AI model-monitoring dashboard")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="serve the dashboard (Voila) and the /vision/api endpoints")
    p.add_argument("--host", default=None, help="address to bind (default 127.0.0.1, or VISION_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default 8866, or VISION_PORT)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("init", help="create the database and load the sample accounts from users.json")
    p.add_argument("--users", default=None, help="accounts file (default users.json at the repo root)")
    p.add_argument("--demo", action="store_true", help="also load demo data (demo models)")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("users", help="manage accounts (operators without a browser)")
    usub = p.add_subparsers(dest="users_command", required=True)
    u = usub.add_parser("list", help="list accounts")
    u.set_defaults(func=cmd_users_list)
    u = usub.add_parser("add", help="add an account (asks for the password)")
    u.add_argument("username")
    u.add_argument("--persona", required=True)
    u.add_argument("--profile", choices=["user", "admin"], default="user")
    u.add_argument("--lob", default="")
    u.add_argument("--sub-lob", default="")
    u.set_defaults(func=cmd_users_add)
    u = usub.add_parser("remove", help="remove an account")
    u.add_argument("username")
    u.set_defaults(func=cmd_users_remove)
    u = usub.add_parser("set-password", help="set an account's password (asks for it)")
    u.add_argument("username")
    u.set_defaults(func=cmd_users_set_password)

    # --- statistics jobs (profile, drift) are registered below by the statistics engine ---
    from vision_widgets import cli_stats

    cli_stats.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return int(func(args) or 0)
    except VisionError as exc:
        print(f"vision: {exc}", file=sys.stderr)
        return EXIT_INPUT_ERROR
    except KeyboardInterrupt:
        return 130


def cmd_serve(args: argparse.Namespace) -> int:
    from vision_widgets.core.config import load_settings
    from vision_widgets.server import serve

    settings = load_settings()
    return serve(settings, host=args.host, port=args.port)


def cmd_init(args: argparse.Namespace) -> int:
    raise NotImplementedError  # filled in with core.auth


def cmd_users_list(args: argparse.Namespace) -> int:
    raise NotImplementedError


def cmd_users_add(args: argparse.Namespace) -> int:
    raise NotImplementedError


def cmd_users_remove(args: argparse.Namespace) -> int:
    raise NotImplementedError


def cmd_users_set_password(args: argparse.Namespace) -> int:
    raise NotImplementedError

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
    p.add_argument("--no-worker", dest="worker", action="store_false",
                   help="do not start a background worker with the server (run `vision worker` yourself)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background jobs (registrations) and periodic work; "
                                      "`vision serve` starts one unless --no-worker")
    worker_options(p)
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("init", help="create or upgrade the database and load the sample accounts from users.json")
    p.add_argument("--users", default=None,
                   help="accounts file (default VISION_USERS_FILE, else the sample accounts shipped with Vision)")
    p.add_argument("--demo", action="store_true", help="also generate demo data and register the demo models")
    p.set_defaults(func=cmd_init)

    p = sub.add_parser("users", help="manage accounts (operators without a browser)")
    usub = p.add_subparsers(dest="users_command", required=True)
    u = usub.add_parser("list", help="list accounts")
    u.set_defaults(func=cmd_users_list)
    u = usub.add_parser("add", help="add an account (asks for the password)")
    u.add_argument("username")
    u.add_argument("--persona", required=True)
    u.add_argument("--role", choices=["user", "admin"], default="user",
                   help="user (default) or admin; --profile is accepted as the seed file's word for it")
    u.add_argument("--profile", dest="role", choices=["user", "admin"], help=argparse.SUPPRESS)
    u.add_argument("--lob", default="")
    u.add_argument("--sub-lob", default="")
    u.set_defaults(func=cmd_users_add)
    u = usub.add_parser("remove", help="remove an account")
    u.add_argument("username")
    u.set_defaults(func=cmd_users_remove)
    u = usub.add_parser("set-password", help="set an account's password (asks for it)")
    u.add_argument("username")
    u.set_defaults(func=cmd_users_set_password)

    p = sub.add_parser("models", help="register models through a stored connector, and pull their new data")
    msub = p.add_subparsers(dest="models_command", required=True)
    m = msub.add_parser("register", help="register a model from open data read through a stored connector "
                                         "(profiled now, in this process)")
    m.add_argument("--name", required=True)
    m.add_argument("--connector", default="local", help="a stored connector's name (`vision connectors list`)")
    m.add_argument("--training", required=True, help="the training data: a file, folder or table under the connector")
    m.add_argument("--production", required=True,
                   help="the first production data (later batches: `vision models pull` or the web app)")
    m.add_argument("--task", default="binary classification",
                   choices=["binary classification", "multiclass classification", "regression"])
    m.add_argument("--target", default="")
    m.add_argument("--prediction", default="")
    m.add_argument("--timestamp", default="")
    m.add_argument("--features", default="", help="comma-separated (default: every other column)")
    m.add_argument("--exclude", default="", help="comma-separated columns never profiled")
    m.add_argument("--owner", required=True, help="the account that owns the model (the command line is no account)")
    m.add_argument("--description", default="")
    m.add_argument("--platform", default="other")
    m.set_defaults(func=cmd_models_register)
    m = msub.add_parser("schedule", help="set a model's cadence and what a scheduled pull reads")
    m.add_argument("name")
    m.add_argument("--cadence", required=True, help="1h, 1D, 7D …; empty with no --reference stops the schedule")
    m.add_argument("--reference", default="", help="a folder/prefix of files, or a table or read-only query")
    m.add_argument("--mode", choices=["new-files", "query"], default="new-files")
    m.add_argument("--watermark", default="", help="query mode: only rows past the last value of this column")
    m.set_defaults(func=cmd_models_schedule)
    m = msub.add_parser("pull", help="run a model's scheduled pull now, in this process")
    m.add_argument("name")
    m.set_defaults(func=cmd_models_pull)

    # --- statistics jobs (profile, drift) are registered below by the statistics engine ---
    from vision_widgets import cli_stats

    cli_stats.register(sub)
    from vision_widgets import cli_connectors

    cli_connectors.register(sub)
    from vision_widgets import cli_alerts, cli_api_keys, cli_llm, cli_notify, cli_rates, cli_usage

    for topic in (cli_usage, cli_api_keys, cli_rates, cli_notify, cli_alerts, cli_llm):
        topic.register(sub)
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
    return serve(settings, host=args.host, port=args.port, worker=args.worker)


def worker_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``vision worker`` (also ``python -m vision_widgets.worker``)."""
    parser.add_argument("--threads", type=int, default=None,
                        help="jobs run at once (default VISION_WORKER_THREADS, else 2)")
    parser.add_argument("--once", action="store_true", help="run the jobs queued now, then exit (pipelines, cron)")
    parser.add_argument("--parent-pid", type=int, default=None, help=argparse.SUPPRESS)


def cmd_worker(args: argparse.Namespace) -> int:
    from vision_widgets import worker
    from vision_widgets.core.config import load_settings

    worker.configure_logging()
    return worker.run(load_settings(), threads=args.threads, parent_pid=args.parent_pid, once=args.once)


def _settings():
    from vision_widgets.core.config import ensure_home, load_settings

    settings = load_settings()
    if settings.uses_sqlite:
        ensure_home(settings)
    return settings


def _context():
    """The services' context on a database ``vision init`` has set up (its schema is checked, not changed)."""
    from vision_widgets.core.context import Context

    return Context.open(_settings())


def _ask_password(username: str) -> str:
    import getpass

    from vision_widgets.core.identity.passwords import check_password_policy

    if not sys.stdin.isatty():
        # Pipelines give the password on standard input (never as an argument:
        # arguments are visible to every user in the process list).
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"New password for {username}: ")
        if getpass.getpass("Repeat it: ") != password:
            from vision_widgets.core.errors import InvalidInput

            raise InvalidInput("The two passwords differ; nothing was changed.")
    check_password_policy(username, password)
    return password


def _operator() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no user name in some containers
        return "cli"


def cmd_init(args: argparse.Namespace) -> int:
    from pathlib import Path

    from sqlalchemy import make_url

    from vision_widgets.core.context import Context
    from vision_widgets.core.storage.upgrade import upgrade
    from vision_widgets.demo.sample_accounts import load_users

    settings = _settings()
    change = upgrade(settings)  # creates the schema, or upgrades it, before anything else reads it
    ctx = Context.open(settings)
    added = load_users(ctx, Path(args.users) if args.users else None)
    default_data = settings.home / "data"
    data_note = ""
    if default_data in settings.data_roots:  # the folder the Register page names first
        default_data.mkdir(parents=True, exist_ok=True)
        data_note = f" Put data files for registration in the data folder {default_data}."
    url = make_url(settings.database_url)  # a PostgreSQL URL may hold a password: never print it
    where = url.database if settings.uses_sqlite else url.render_as_string(hide_password=True)
    print(f"Database ready at {where} ({change}); "
          f"{len(added)} account(s) added" + (f": {', '.join(added)}." if added else " (all present already).")
          + data_note)
    if args.demo:
        from vision_widgets.demo import seeding

        models = seeding.install(ctx)
        print(f"Demo models registered: {', '.join(models)}." if models else "Demo models present already.")
    return 0


def _operator_principal():
    from vision_widgets.services.sessions import operator

    return operator(_operator())


def cmd_users_list(args: argparse.Namespace) -> int:
    from vision_widgets.services import accounts

    ctx = _context()
    now = ctx.now()
    found = accounts.list_accounts(ctx, _operator_principal())
    print(f"{'username':<22}{'role':<8}{'persona':<20}{'line of business':<18}{'last login':<18}locked")
    for a in found:
        last = a.last_login.strftime("%Y-%m-%d %H:%M") if a.last_login else "never"
        print(f"{a.username:<22}{a.role:<8}{a.persona:<20}{a.lob:<18}{last:<18}{'yes' if a.is_locked(now) else 'no'}")
    return 0


def cmd_users_add(args: argparse.Namespace) -> int:
    from vision_widgets.services import accounts

    new = accounts.NewAccount(
        username=args.username, persona=args.persona, role=args.role, lob=args.lob, sub_lob=args.sub_lob
    ).validated()
    ctx = _context()
    created = accounts.create_account(ctx, _operator_principal(), new, _ask_password(new.username))
    print(f"Added {created.username} ({created.role}).")
    return 0


def cmd_users_remove(args: argparse.Namespace) -> int:
    from vision_widgets.services import accounts

    accounts.remove_account(_context(), _operator_principal(), args.username)
    print(f"Removed {args.username}.")
    return 0


def cmd_users_set_password(args: argparse.Namespace) -> int:
    from vision_widgets.services import accounts

    ctx = _context()
    me = _operator_principal()
    accounts.get_account(ctx, me, args.username)  # fail before asking for a password
    accounts.reset_password(ctx, me, args.username, _ask_password(args.username))
    print(f"Password of {args.username} changed; their sessions were ended.")
    return 0


def _columns(text: str) -> tuple[str, ...]:
    return tuple(c.strip() for c in (text or "").split(",") if c.strip())


def cmd_models_register(args: argparse.Namespace) -> int:
    from vision_widgets.services import registration

    spec = registration.ModelSpec(
        name=args.name, task=args.task, description=args.description, platform=args.platform,
        connector=args.connector, target=args.target, prediction=args.prediction, timestamp=args.timestamp,
        features=_columns(args.features), exclude=_columns(args.exclude), owner=args.owner,
        training=args.training, production=args.production,
    )
    reg = registration.register_model(_context(), _operator_principal(), spec)
    verdict = "drift detected" if reg.drift is not None and reg.drift.dataset_drift else "no dataset drift"
    print(f"Registered {reg.model.name} for {reg.model.owner} through the connector {reg.model.connector} ({verdict}).")
    return 0


def cmd_models_schedule(args: argparse.Namespace) -> int:
    from vision_widgets.services import scheduled_pulls

    found = scheduled_pulls.set_pull(_context(), _operator_principal(), args.name, args.cadence, args.reference,
                                     args.mode, args.watermark)
    if found.scheduled:
        print(f"{found.model}: every {found.cadence}, pulls {found.mode} from {found.reference} "
              f"through {found.connector}.")
    else:
        print(f"{found.model}: " + (f"expects data every {found.cadence}; no scheduled pull." if found.cadence
                                   else "no cadence, no scheduled pull."))
    return 0


def cmd_models_pull(args: argparse.Namespace) -> int:
    from vision_widgets.services import scheduled_pulls

    result = scheduled_pulls.run_pull(_context(), _operator_principal(), args.name)
    print(f"{result.model}: {result.message}" + (f" ({', '.join(result.what)})" if result.batches else "") + ".")
    return 0

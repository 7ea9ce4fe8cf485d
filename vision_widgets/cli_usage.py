"""``vision usage import FILE --model NAME``: a usage CSV from the command line (operators, pipelines);
``vision usage delete --model NAME --from DAY --to DAY``: remove days sent wrong, to send them again.

The command acts as an operator (an admin without a session, like ``vision users``): whoever runs
it can write the database anyway. It goes through ``services.usage.import_csv``, the service the
Business Metrics page's upload uses, so the same validation, idempotency and audit entry apply
(source ``cli``). A refused file stores nothing and exits 2 with every bad line named.
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vision usage …`` to the ``vision`` parser."""
    p = sub.add_parser("usage", help="usage records of models (predictions, compute hours, resource shares)")
    usub = p.add_subparsers(dest="usage_command", required=True)
    u = usub.add_parser("import", help="import a usage CSV: timestamp,predictions,compute_hours"
                                       "[,cpu_share,memory_share,gpu_share]; all lines or none")
    u.add_argument("file", help="the CSV file ('-' reads standard input)")
    u.add_argument("--model", required=True, help="the registered model's name")
    u.add_argument("--json", action="store_true", help="print the counts as JSON (scripts)")
    u.set_defaults(func=cmd_import)
    u = usub.add_parser("delete", help="delete a model's usage records of some days (UTC, both included), "
                                       "to send them again corrected")
    u.add_argument("--model", required=True, help="the registered model's name")
    u.add_argument("--from", dest="start", required=True, metavar="YYYY-MM-DD", help="the first day")
    u.add_argument("--to", dest="end", required=True, metavar="YYYY-MM-DD", help="the last day")
    u.add_argument("--json", action="store_true", help="print the counts as JSON (scripts)")
    u.set_defaults(func=cmd_delete)


def _read(path: str) -> bytes:
    from pathlib import Path

    from vision_widgets.core.errors import InvalidInput

    if path == "-":
        return sys.stdin.buffer.read()
    file = Path(path)
    if not file.is_file():
        raise InvalidInput(f"There is no file {path!r}.", field="file")
    return file.read_bytes()


def cmd_import(args: argparse.Namespace) -> int:
    from vision_widgets.cli import _context, _operator_principal
    from vision_widgets.services import usage

    result = usage.import_csv(_context(), _operator_principal(), args.model, _read(args.file), source="cli")
    if args.json:
        print(json.dumps(result.summary()))
    else:
        print(result.message())
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from vision_widgets.cli import _context, _operator_principal
    from vision_widgets.services import usage

    done = usage.delete(_context(), _operator_principal(), args.model, args.start, args.end)
    if args.json:
        print(json.dumps({"model": done.model, "from": done.start.isoformat(), "to": done.end.isoformat(),
                          "deleted": done.deleted, "predictions": done.predictions}))
    else:
        print(done.message())
    return 0

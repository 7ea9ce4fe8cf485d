"""``vision usage import FILE --model NAME``: a usage CSV from the command line (operators, pipelines).

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

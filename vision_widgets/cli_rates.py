"""``vision rates list | set``: the cost rates per platform and their history, for operators.

The command acts as an operator (an admin without a session, like ``vision users``) through the same
service as the Business Metrics page, so the same checks (no negative or non-numeric amount, a
three-letter currency, the past never rewritten) and audit entries apply.
"""
from __future__ import annotations

import argparse
import json


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vision rates …`` to the ``vision`` parser."""
    p = sub.add_parser("rates", help="cost rates per platform, with their history (Business Metrics)")
    rsub = p.add_subparsers(dest="rates_command", required=True)

    r = rsub.add_parser("list", help="every rate, by platform and effective date")
    r.add_argument("--json", action="store_true", help="print JSON (stable shape for scripts)")
    r.set_defaults(func=cmd_list)

    r = rsub.add_parser("set", help="add a platform's rate from a date (earlier days keep their rate)")
    r.add_argument("platform", help="as the models name it, e.g. Databricks")
    r.add_argument("--currency", required=True, help="ISO 4217 code, e.g. EUR")
    r.add_argument("--per-1k", required=True, help="cost per 1,000 predictions, a point for decimals (0.40)")
    r.add_argument("--per-hour", required=True, help="cost per compute hour, a point for decimals (3.20)")
    r.add_argument("--from", dest="effective_from", required=True, metavar="YYYY-MM-DD",
                   help="the first day the rate applies")
    r.set_defaults(func=cmd_set)


def _principal():
    from vision_widgets.cli import _operator
    from vision_widgets.services.sessions import operator

    return operator(_operator())


def _context():
    from vision_widgets.cli import _context as context

    return context()


def cmd_list(args: argparse.Namespace) -> int:
    from vision_widgets.services import cost_rates

    found = cost_rates.list_rates(_context(), _principal())
    if args.json:
        print(json.dumps([{"platform": r.platform, "currency": r.currency, "per_1k_predictions": r.per_1k_predictions,
                           "per_compute_hour": r.per_compute_hour, "effective_from": r.effective_from.isoformat(),
                           "created_by": r.created_by} for r in found], indent=2))
        return 0
    if not found:
        print("No cost rates yet: `vision rates set PLATFORM --currency EUR --per-1k 0.4 --per-hour 3 --from DATE`.")
        return 0
    print(f"{'platform':<20}{'from':<12}{'currency':<10}{'per 1,000 predictions':>22}{'per compute hour':>18}")
    for r in found:
        print(f"{r.platform:<20}{r.effective_from.isoformat():<12}{r.currency:<10}"
              f"{r.per_1k_predictions:>22.4g}{r.per_compute_hour:>18.4g}")
    return 0


def cmd_set(args: argparse.Namespace) -> int:
    from vision_widgets.services import cost_rates

    rate = cost_rates.set_rate(_context(), _principal(), args.platform, args.currency, args.per_1k, args.per_hour,
                               args.effective_from)
    print(f"{rate.platform}: {rate.currency} {rate.per_1k_predictions:g} per 1,000 predictions and "
          f"{rate.per_compute_hour:g} per compute hour from {rate.effective_from.isoformat()}.")
    return 0

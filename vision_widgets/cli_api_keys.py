"""``vision api-keys issue | list | revoke``: API keys for automation (usage uploads).

Acts as an operator (an admin without a session, like ``vision users``) through
``services.api_keys``, so the same rules and audit entries apply. ``issue`` prints the key
once, on standard output alone (so ``KEY=$(vision api-keys issue NAME)`` captures it); it is
stored only as its SHA-256 and cannot be shown again.
"""
from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``vision api-keys …`` to the ``vision`` parser."""
    p = sub.add_parser("api-keys", help="API keys for automation (sending usage records)")
    ksub = p.add_subparsers(dest="api_keys_command", required=True)

    k = ksub.add_parser("issue", help="issue a key (printed once; only its hash is stored)")
    k.add_argument("name", help="what uses the key, e.g. nightly-usage-export")
    k.add_argument("--scope", default="usage", choices=["usage"], help="what the key may do (default usage)")
    k.add_argument("--expires-in-days", type=int, default=None, help="days until it expires (default: never)")
    k.set_defaults(func=cmd_issue)

    k = ksub.add_parser("list", help="list the keys (never the keys themselves)")
    k.add_argument("--json", action="store_true", help="print JSON (stable shape for scripts)")
    k.set_defaults(func=cmd_list)

    k = ksub.add_parser("revoke", help="revoke a key by its id (from `list`); its next use is refused")
    k.add_argument("id", type=int)
    k.set_defaults(func=cmd_revoke)


def _call():
    from vision_widgets.cli import _context, _operator_principal

    return _context(), _operator_principal()


def cmd_issue(args: argparse.Namespace) -> int:
    from vision_widgets.services import api_keys

    ctx, me = _call()
    key, listing = api_keys.issue(ctx, me, args.name, args.scope, args.expires_in_days)
    expires = f"expires {listing.expires_at:%Y-%m-%d %H:%M} UTC" if listing.expires_at else "never expires"
    print(f"Issued API key {listing.id} ({listing.name!r}, scope {listing.scope}, {expires}). "
          "Store it now: it is not shown again.", file=sys.stderr)
    print(key)
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    from vision_widgets.services import api_keys

    ctx, me = _call()
    now = ctx.now()
    found = api_keys.list_keys(ctx, me)

    def when(value) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if value else "never"

    if args.json:
        print(json.dumps([{
            "id": k.id, "name": k.name, "scope": k.scope, "state": k.state(now), "created_by": k.created_by,
            "created_at": k.created_at.isoformat(),
            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
            "revoked_at": k.revoked_at.isoformat() if k.revoked_at else None,
            "last_used_at": k.last_used_at.isoformat() if k.last_used_at else None,
        } for k in found], indent=2))
        return 0
    print(f"{'id':>4}  {'name':<28}{'scope':<8}{'state':<9}{'created by':<22}{'expires':<18}last used")
    for k in found:
        print(f"{k.id:>4}  {k.name:<28}{k.scope:<8}{k.state(now):<9}{k.created_by:<22}"
              f"{when(k.expires_at):<18}{when(k.last_used_at)}")
    return 0


def cmd_revoke(args: argparse.Namespace) -> int:
    from vision_widgets.services import api_keys

    ctx, me = _call()
    key = api_keys.revoke(ctx, me, args.id)
    print(f"API key {key.id} ({key.name!r}) is revoked.")
    return 0

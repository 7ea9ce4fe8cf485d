"""``python -m tests.support.upgrade_process``: one process running the schema upgrade, for test_migrations.

The database comes from ``VISION_HOME`` / ``VISION_DATABASE_URL`` as for ``vision init``. Options:

``--ready FILE --go FILE``  write FILE once imported, then wait for the go file: lets a test start two
                            processes and release them into ``upgrade()`` at the same moment;
``--pause-after-rename FILE``  once the statement renaming ``users.profile`` (SQLite: the rebuilt table)
                            has run inside the migration's transaction, write FILE and sleep, so the test
                            can SIGKILL the process mid-migration. A listener on SQLAlchemy's engine
                            events, here in the tests: the package has no test hook.

Prints what ``upgrade()`` did (``SchemaChange``) on success.
"""
from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

from vision_widgets.core.config import load_settings
from vision_widgets.core.storage import upgrade


def _pause_after_rename(marker: Path) -> None:
    @event.listens_for(Engine, "after_cursor_execute")
    def _pause(_conn, _cursor, statement, _params, _context, _executemany):
        sql = " ".join(statement.split()).upper()
        if sql.startswith("ALTER TABLE") and "RENAME" in sql and "USERS" in sql:
            # Written beside, then renamed: the test waits for the file to exist and then reads it,
            # and a file created by write_text exists (empty) before its text is in it.
            partial = marker.with_name(marker.name + ".partial")
            partial.write_text(statement, encoding="utf-8")
            os.replace(partial, marker)
            time.sleep(600)  # the test kills us long before this ends


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ready", type=Path)
    parser.add_argument("--go", type=Path)
    parser.add_argument("--pause-after-rename", type=Path)
    args = parser.parse_args()
    if args.pause_after_rename:
        _pause_after_rename(args.pause_after_rename)
    settings = load_settings()
    if args.ready:
        args.ready.write_text("ready", encoding="utf-8")
        deadline = time.monotonic() + 120
        while not args.go.exists():
            if time.monotonic() > deadline:
                raise SystemExit("no go signal within 120 s")
            time.sleep(0.002)
    print(upgrade.upgrade(settings), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Alembic's environment for Vision AI: run the revisions on the connection it is handed.

``core/storage/upgrade.py`` is the only runtime caller. It opens the connection,
takes the lock, begins the one transaction and passes the connection in
``config.attributes["connection"]``; Alembic sees a transaction already begun
and neither begins nor commits one, so every revision, the stamp of an old
database and the version-table update commit together or not at all.

Developers writing a revision use ``upgrade.alembic_config()`` with
``alembic.command.revision(config, message, autogenerate=True)``; that path, and
``--sql`` (offline) output for a DBA, come here without a connection and use
``sqlalchemy.url`` instead.
"""
from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from vision_widgets.core.storage import schema

config = context.config

# SQLite cannot ALTER most things in place: batch mode copies the table instead.
# Harmless on PostgreSQL, where batch operations are plain ALTERs.
_OPTIONS = {"target_metadata": schema.metadata, "render_as_batch": True, "compare_type": True}


def run_offline() -> None:
    context.configure(url=config.get_main_option("sqlalchemy.url"), literal_binds=True, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        # transactional_ddl: SQLite has it too, although Alembic's SQLite dialect says not.
        context.configure(connection=connection, transactional_ddl=True, **_OPTIONS)
        with context.begin_transaction():  # a no-op: the caller's transaction is open
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as conn:
            context.configure(connection=conn, **_OPTIONS)
            with context.begin_transaction():
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

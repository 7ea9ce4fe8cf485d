"""connectors and monitoring: stored connector configurations, scheduled pulls, health-check history.

Revision ID: 0006_connectors_monitoring
Revises: 0005_session_codes
Create Date: 2026-11-27

* ``connectors``: one row per named connector (a *type* from ``core/connectors`` and its
  configuration). Non-secret settings are JSON in ``config``; passwords, keys, tokens and SAS
  strings are one Fernet token in ``secrets`` (``core/secrets.py``), never in clear.
  The built-in ``local`` connector (files under the allowed data roots) is inserted here, so
  the models registered before this revision (``models.connector = 'local'``) keep a connector.
* ``models`` gains ``cadence`` (how often production data is expected, e.g. ``1D``; monitoring
  calls a model late or stale against it), ``pull`` (JSON: what a scheduled pull reads through
  the model's connector, and how far it got) and ``pulled_at``.
* ``health_checks``: the history of the platform's health checks (Monitoring page).

The downgrade drops what was added; connector secrets and check history are lost with it.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0006_connectors_monitoring"
down_revision = "0005_session_codes"
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    connectors = op.create_table(
        "connectors",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("name_key", sa.String(32), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
        sa.Column("last_test_at", _DATETIME, nullable=True),
        sa.Column("last_test_ok", sa.Boolean, nullable=True),
        sa.Column("last_test_ms", sa.Float, nullable=True),
        sa.Column("last_test_message", sa.Text, nullable=False),
    )
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    op.bulk_insert(connectors, [{
        "name": "local", "name_key": "local", "type": "local",
        "description": "Files on the server under the allowed data folders.",
        "config": "{}", "secrets": None, "created_by": "", "created_at": now, "updated_at": now,
        "last_test_at": None, "last_test_ok": None, "last_test_ms": None, "last_test_message": "",
    }])
    with op.batch_alter_table("models") as batch:
        batch.add_column(sa.Column("cadence", sa.String(16), nullable=True))
        batch.add_column(sa.Column("pull", sa.Text, nullable=True))
        batch.add_column(sa.Column("pulled_at", _DATETIME, nullable=True))
    op.create_table(
        "health_checks",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("checked_at", _DATETIME, nullable=False),
        sa.Column("check", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("critical", sa.Boolean, nullable=False),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("unit", sa.String(16), nullable=False),
        sa.Column("message", sa.Text, nullable=False),
    )
    op.create_index("ix_health_checks_at", "health_checks", ["checked_at"])
    op.create_index("ix_health_checks_check", "health_checks", ["check", "subject", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_health_checks_check", table_name="health_checks")
    op.drop_index("ix_health_checks_at", table_name="health_checks")
    op.drop_table("health_checks")
    with op.batch_alter_table("models") as batch:
        batch.drop_column("pulled_at")
        batch.drop_column("pull")
        batch.drop_column("cadence")
    op.drop_table("connectors")

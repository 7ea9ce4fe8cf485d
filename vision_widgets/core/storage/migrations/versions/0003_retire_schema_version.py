"""The schema_version table of 0.1.0 goes: Alembic's alembic_version replaces it.

Revision ID: 0003_retire_schema_version
Revises: 0002_users_role
Create Date: 2026-11-27

The downgrade puts it back with 0.1.0's row ``1``, so a database downgraded to
the baseline is again one that 0.1.0 recognises.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0003_retire_schema_version"
down_revision = "0002_users_role"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("schema_version")


def downgrade() -> None:
    version = op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.bulk_insert(version, [{"version": 1, "applied_at": datetime.now(timezone.utc).replace(tzinfo=None)}])

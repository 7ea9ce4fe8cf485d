"""periodic tasks run once per period however many workers enqueue them.

Revision ID: 0009_periodic_runs
Revises: 0008_llm_log
Create Date: 2026-11-28

* ``periodic_runs``: per periodic task, the last period claimed and by which worker
  (``core/jobs/periodic.py``).

The downgrade drops it: an older worker runs its periodic tasks without claims (once per worker).
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_periodic_runs"
down_revision = "0008_llm_log"
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "periodic_runs",
        sa.Column("task", sa.String(64), primary_key=True),
        sa.Column("period_start", _DATETIME, nullable=False),
        sa.Column("worker", sa.String(255), nullable=False),
        sa.Column("claimed_at", _DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("periodic_runs")

"""jobs and workers: background work that outlives a browser tab (``vision worker``).

Revision ID: 0004_jobs
Revises: 0003_retire_schema_version
Create Date: 2026-11-28

Two new tables and nothing else changes, so the downgrade drops them: the jobs
they hold (queued, running or finished registrations) are lost with them, which
an operator going back to a release without a worker has no use for.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004_jobs"
down_revision = "0003_retire_schema_version"
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(32), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("progress", sa.Float, nullable=False),
        sa.Column("message", sa.String(200), nullable=False),
        sa.Column("result", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("enqueued_at", _DATETIME, nullable=False),
        sa.Column("started_at", _DATETIME, nullable=True),
        sa.Column("heartbeat_at", _DATETIME, nullable=True),
        sa.Column("finished_at", _DATETIME, nullable=True),
        sa.Column("lease_owner", sa.String(255), nullable=True),
        sa.Column("lease_expires", _DATETIME, nullable=True),
    )
    op.create_index("ix_jobs_actor", "jobs", ["actor", "created_at"])
    op.create_index("ix_jobs_state", "jobs", ["state", "lease_expires"])
    op.create_table(
        "workers",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer, nullable=False),
        sa.Column("started_at", _DATETIME, nullable=False),
        sa.Column("heartbeat_at", _DATETIME, nullable=False),
        sa.Column("stopped_at", _DATETIME, nullable=True),
    )
    op.create_index("ix_workers_heartbeat", "workers", ["heartbeat_at"])


def downgrade() -> None:
    op.drop_index("ix_workers_heartbeat", table_name="workers")
    op.drop_table("workers")
    op.drop_index("ix_jobs_state", table_name="jobs")
    op.drop_index("ix_jobs_actor", table_name="jobs")
    op.drop_table("jobs")

"""session_codes: single-use codes that let a session survive a browser reload.

Revision ID: 0005_session_codes
Revises: 0004_jobs
Create Date: 2026-11-27

One new table and nothing else changes, so the downgrade drops it: the codes
live a minute, and without them a reload shows the login form again.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_session_codes"
down_revision = "0004_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "session_codes",
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("purpose", sa.String(16), nullable=False),
        sa.Column("session_hash", sa.String(64), sa.ForeignKey("sessions.token_hash", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("sealed", sa.String(128), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_session_codes_expires", "session_codes", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_session_codes_expires", table_name="session_codes")
    op.drop_table("session_codes")

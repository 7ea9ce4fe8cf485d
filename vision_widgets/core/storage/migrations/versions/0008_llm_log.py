"""the LLM Chat page's record of prompts, tool calls and answers.

Revision ID: 0008_llm_log
Revises: 0007_usage_notifications
Create Date: 2026-11-27

* ``llm_log``: one row per prompt, tool call and answer (who, which model, which endpoint);
  the ``llm.record`` app setting turns recording off.

The downgrade drops it and its history.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_llm_log"
down_revision = "0007_usage_notifications"
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "llm_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _DATETIME, nullable=False),
        sa.Column("conversation", sa.String(36), nullable=False),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("endpoint", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_index("ix_llm_log_at", "llm_log", ["at"])
    op.create_index("ix_llm_log_user", "llm_log", ["username", "at"])


def downgrade() -> None:
    op.drop_index("ix_llm_log_user", table_name="llm_log")
    op.drop_index("ix_llm_log_at", table_name="llm_log")
    op.drop_table("llm_log")

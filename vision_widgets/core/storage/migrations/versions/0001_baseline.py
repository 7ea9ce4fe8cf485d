"""baseline: the schema of release 0.1.0 (commit 018be3c), written out in full.

Revision ID: 0001_baseline
Revises:
Create Date: 2026-11-27

A frozen copy, never an import of ``schema.py``: that file describes the head
and will keep changing, while this revision must always build what 0.1.0 built
(``users.profile`` included) and what its databases hold. 0.1.0 versioned its
schema in a ``schema_version`` table with the row ``1``; this revision writes the
same row, so a database downgraded to here is one 0.1.0 runs on, and
``upgrade.py`` stamps a database that 0.1.0 wrote with this revision.
"""
from __future__ import annotations

from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

revision = "0001_baseline"
down_revision = None
branch_labels = None
depends_on = None

# 0.1.0's UTCDateTime stored naive UTC in a timezone-aware column type.
_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    version = op.create_table(
        "schema_version",
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("applied_at", _DATETIME, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(32), nullable=False, unique=True),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("persona", sa.String(64), nullable=False),
        sa.Column("profile", sa.String(16), nullable=False),
        sa.Column("lob", sa.String(64), nullable=False),
        sa.Column("sub_lob", sa.String(64), nullable=False),
        sa.Column("notes", sa.Text, nullable=False),
        sa.Column("owned_model", sa.String(128), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("last_login", _DATETIME, nullable=True),
        sa.Column("failed_logins", sa.Integer, nullable=False),
        sa.Column("locked_until", _DATETIME, nullable=True),
        sa.Column("password_changed_at", _DATETIME, nullable=False),
    )
    op.create_table(
        "sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("expires_at", _DATETIME, nullable=False),
    )
    op.create_index("ix_sessions_user", "sessions", ["user_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("at", _DATETIME, nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
    )
    op.create_index("ix_audit_at", "audit_log", ["at"])
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("name_key", sa.String(128), nullable=False, unique=True),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("task", sa.String(32), nullable=False),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("connector", sa.String(32), nullable=False),
        sa.Column("connector_details", sa.Text, nullable=False),
        sa.Column("owner", sa.String(32), nullable=False),
        sa.Column("lob", sa.String(64), nullable=False),
        sa.Column("sub_lob", sa.String(64), nullable=False),
        sa.Column("roles", sa.Text, nullable=False),
        sa.Column("restricted", sa.Boolean, nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("drift_settings", sa.Text, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
    )
    op.create_index("ix_models_owner", "models", ["owner"])
    op.create_table(
        "profiles",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("label", sa.String(128), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_profiles_model", "profiles", ["model_id", "kind"])
    op.create_table(
        "drift_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("profile_id", sa.Integer, sa.ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("dataset_drift", sa.Boolean, nullable=False),
        sa.Column("drift_share", sa.Float, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_index("ix_drift_model", "drift_reports", ["model_id"])
    op.create_table(
        "upload_tokens",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("expires_at", _DATETIME, nullable=False),
        sa.Column("used_at", _DATETIME, nullable=True),
    )
    op.bulk_insert(version, [{"version": 1, "applied_at": datetime.now(timezone.utc).replace(tzinfo=None)}])


def downgrade() -> None:
    for index, table in (("ix_drift_model", "drift_reports"), ("ix_profiles_model", "profiles"),
                         ("ix_models_owner", "models"), ("ix_audit_at", "audit_log"),
                         ("ix_sessions_user", "sessions")):
        op.drop_index(index, table_name=table)
    for table in ("upload_tokens", "drift_reports", "profiles", "models", "audit_log", "sessions", "users",
                  "schema_version"):
        op.drop_table(table)

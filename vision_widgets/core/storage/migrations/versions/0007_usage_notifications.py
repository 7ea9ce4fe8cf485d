"""usage, cost rates, API keys, notifications and alert delivery, run-time settings.

Revision ID: 0007_usage_notifications
Revises: 0006_connectors_monitoring
Create Date: 2026-11-27

* ``usage_records``: per model and timestamp, predictions, compute hours and resource shares
  (Business Metrics); unique on (model, timestamp) so uploads are idempotent.
* ``cost_rates``: per platform, the cost of 1,000 predictions and of a compute hour in a
  currency, from an effective date (the history is kept; a change never rewrites the past).
* ``api_keys``: keys an admin issues for automation (usage uploads), stored as SHA-256.
* ``notifications`` (one row per cause, unique ``dedupe_key``) and ``notification_reads``
  (per-account read state).
* ``alert_channels`` (webhook or e-mail per line of business, secrets sealed with Fernet) and
  ``alert_deliveries`` (the delivery log with retries).
* ``app_settings``: settings admins change at run time.

The downgrade drops them; usage, notifications and channels are lost with it.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_usage_notifications"
down_revision = "0006_connectors_monitoring"
branch_labels = None
depends_on = None

_DATETIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "usage_records",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
        sa.Column("at", _DATETIME, nullable=False),
        sa.Column("predictions", sa.Integer, nullable=False),
        sa.Column("compute_hours", sa.Float, nullable=False),
        sa.Column("cpu_share", sa.Float, nullable=True),
        sa.Column("memory_share", sa.Float, nullable=True),
        sa.Column("gpu_share", sa.Float, nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("received_at", _DATETIME, nullable=False),
    )
    op.create_index("ux_usage_model_at", "usage_records", ["model_id", "at"], unique=True)
    op.create_table(
        "cost_rates",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("platform", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("per_1k_predictions", sa.Float, nullable=False),
        sa.Column("per_compute_hour", sa.Float, nullable=False),
        sa.Column("effective_from", _DATETIME, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
    )
    op.create_index("ux_cost_rates_platform_from", "cost_rates", ["platform", "effective_from"], unique=True)
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("expires_at", _DATETIME, nullable=True),
        sa.Column("revoked_at", _DATETIME, nullable=True),
        sa.Column("last_used_at", _DATETIME, nullable=True),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("model_id", sa.Integer, sa.ForeignKey("models.id", ondelete="CASCADE"), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=False, unique=True),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("link", sa.Text, nullable=False),
    )
    op.create_index("ix_notifications_created", "notifications", ["created_at"])
    op.create_index("ix_notifications_model", "notifications", ["model_id", "created_at"])
    op.create_table(
        "notification_reads",
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                  primary_key=True),
        sa.Column("username", sa.String(32), primary_key=True),
        sa.Column("read_at", _DATETIME, nullable=False),
    )
    op.create_table(
        "alert_channels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("name_key", sa.String(64), nullable=False, unique=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("lob", sa.String(64), nullable=False),
        sa.Column("config", sa.Text, nullable=False),
        sa.Column("secrets", sa.Text, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("created_by", sa.String(32), nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
    )
    op.create_table(
        "alert_deliveries",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("notification_id", sa.Integer, sa.ForeignKey("notifications.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("channel_id", sa.Integer, sa.ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("created_at", _DATETIME, nullable=False),
        sa.Column("last_attempt_at", _DATETIME, nullable=True),
        sa.Column("next_attempt_at", _DATETIME, nullable=True),
        sa.Column("sent_at", _DATETIME, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
    )
    op.create_index("ux_deliveries_notification_channel", "alert_deliveries", ["notification_id", "channel_id"],
                    unique=True)
    op.create_index("ix_deliveries_due", "alert_deliveries", ["state", "next_attempt_at"])
    op.create_table(
        "app_settings",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
        sa.Column("updated_by", sa.String(32), nullable=False),
        sa.Column("updated_at", _DATETIME, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("app_settings")
    op.drop_index("ix_deliveries_due", table_name="alert_deliveries")
    op.drop_index("ux_deliveries_notification_channel", table_name="alert_deliveries")
    op.drop_table("alert_deliveries")
    op.drop_table("alert_channels")
    op.drop_table("notification_reads")
    op.drop_index("ix_notifications_model", table_name="notifications")
    op.drop_index("ix_notifications_created", table_name="notifications")
    op.drop_table("notifications")
    op.drop_table("api_keys")
    op.drop_index("ux_cost_rates_platform_from", table_name="cost_rates")
    op.drop_table("cost_rates")
    op.drop_index("ux_usage_model_at", table_name="usage_records")
    op.drop_table("usage_records")

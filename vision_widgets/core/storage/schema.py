"""The database tables (SQLAlchemy Core): the declarative description of the schema's head.

Changing a table here changes nothing in a database by itself: add an Alembic
revision under ``migrations/versions/`` (see ``upgrade.py``), which ``vision init``
and ``vision serve`` apply. A test builds the head revision and compares it with
this ``metadata``: they must not differ.
"""
from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
)

from vision_widgets.core.clock import as_utc

metadata = MetaData()


class UTCDateTime(TypeDecorator):
    """A DateTime that always comes back timezone-aware (SQLite drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):  # noqa: D102 - SQLAlchemy hook
        return None if value is None else as_utc(value).replace(tzinfo=None)

    def process_result_value(self, value, dialect):  # noqa: D102 - SQLAlchemy hook
        return as_utc(value)


users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("persona", String(64), nullable=False, default=""),
    Column("role", String(16), nullable=False),
    Column("lob", String(64), nullable=False, default=""),
    Column("sub_lob", String(64), nullable=False, default=""),
    Column("notes", Text, nullable=False, default=""),
    Column("owned_model", String(128), nullable=False, default=""),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_login", UTCDateTime, nullable=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTCDateTime, nullable=True),
    Column("password_changed_at", UTCDateTime, nullable=False),
)

# A session row holds only the SHA-256 of the token: a copy of the database
# does not let anyone log in.
sessions = Table(
    "sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_sessions_user", "user_id"),
)

# Single-use codes that carry a session across the widget protocol and the page request
# (core/identity/session_codes.py): only the code's hash is kept, and they live a minute.
session_codes = Table(
    "session_codes",
    metadata,
    Column("code_hash", String(64), primary_key=True),
    Column("purpose", String(16), nullable=False),  # "cookie" (kernel -> browser) or "resume" (page -> kernel)
    Column("session_hash", String(64), ForeignKey("sessions.token_hash", ondelete="CASCADE"), nullable=False),
    # For "cookie": the session token XOR a key derived from the code, so the table alone never yields it.
    Column("sealed", String(128), nullable=True),
    Column("expires_at", UTCDateTime, nullable=False),
    Index("ix_session_codes_expires", "expires_at"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("actor", String(64), nullable=False),
    Column("action", String(64), nullable=False),
    Column("target", String(128), nullable=False, default=""),
    Column("detail", Text, nullable=False, default=""),
    Index("ix_audit_at", "at"),
)

# --- model registry ---------------------------------------------------------------

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False),
    # Lower-cased name: model names are unique whatever their case.
    Column("name_key", String(128), nullable=False, unique=True),
    Column("description", Text, nullable=False, default=""),
    Column("task", String(32), nullable=False),
    Column("platform", String(64), nullable=False, default=""),
    Column("connector", String(32), nullable=False),
    Column("connector_details", Text, nullable=False, default="{}"),  # JSON, never a secret
    Column("owner", String(32), nullable=False),
    Column("lob", String(64), nullable=False, default=""),
    Column("sub_lob", String(64), nullable=False, default=""),
    Column("roles", Text, nullable=False),  # JSON of the column roles
    Column("restricted", Boolean, nullable=False, default=False),
    Column("status", String(24), nullable=False),
    Column("drift_settings", Text, nullable=False, default="{}"),  # JSON
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # How often production data is expected ("1D", "7D"…; monitoring says fresh, late or stale).
    Column("cadence", String(16), nullable=True),
    # JSON: what a scheduled pull reads through the model's connector and how far it got (no secret).
    Column("pull", Text, nullable=True),
    Column("pulled_at", UTCDateTime, nullable=True),
    Index("ix_models_owner", "owner"),
)

# --- connectors ------------------------------------------------------------------------------

# A named, stored configuration of a connector type (core/connectors). ``models.connector`` holds
# the name. ``config`` is JSON without secrets; ``secrets`` is one Fernet token (core/secrets.py)
# of the JSON of the secret fields, never readable without the key.
connectors = Table(
    "connectors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(32), nullable=False),
    Column("name_key", String(32), nullable=False, unique=True),  # lower-cased
    Column("type", String(32), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("config", Text, nullable=False, default="{}"),
    Column("secrets", Text, nullable=True),
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("last_test_at", UTCDateTime, nullable=True),
    Column("last_test_ok", Boolean, nullable=True),
    Column("last_test_ms", Float, nullable=True),
    Column("last_test_message", Text, nullable=False, default=""),
)

# Profiles are aggregates only (client.Profile JSON): never raw rows.
profiles = Table(
    "profiles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(16), nullable=False),  # "reference" (training) or "production"
    Column("label", String(128), nullable=False, default=""),
    Column("source", String(16), nullable=False),  # "server" (connector) or "client" (submitted)
    Column("rows", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("body", Text, nullable=False),
    Index("ix_profiles_model", "model_id", "kind"),
)

drift_reports = Table(
    "drift_reports",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("profile_id", Integer, ForeignKey("profiles.id", ondelete="CASCADE"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("dataset_drift", Boolean, nullable=False),
    Column("drift_share", Float, nullable=False),
    Column("body", Text, nullable=False),  # DriftReport.to_dict() JSON
    Index("ix_drift_model", "model_id"),
)

# Upload tokens let a restricted client submit profiles for one model; stored as hashes.
upload_tokens = Table(
    "upload_tokens",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
    Column("used_at", UTCDateTime, nullable=True),
)

# --- background jobs -----------------------------------------------------------------------

# One row per job (core/jobs): the truth about work that outlives a browser tab; the task
# queue carries only job ids. ``params`` and ``result`` are JSON and never hold a secret.
# ``lease_owner``/``lease_expires`` say which worker runs it until when (see core/jobs/lease.py).
jobs = Table(
    "jobs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("actor", String(32), nullable=False),  # the account it was submitted by, and acts as
    Column("title", String(200), nullable=False, default=""),
    Column("params", Text, nullable=False, default="{}"),
    Column("state", String(16), nullable=False),  # queued, running, done, failed
    Column("progress", Float, nullable=False, default=0.0),
    Column("message", String(200), nullable=False, default=""),
    Column("result", Text, nullable=True),
    Column("error", Text, nullable=False, default=""),  # why it failed, for a person to act on
    Column("attempts", Integer, nullable=False, default=0),
    Column("max_attempts", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("enqueued_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("heartbeat_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    Column("lease_owner", String(255), nullable=True),
    Column("lease_expires", UTCDateTime, nullable=True),
    Index("ix_jobs_actor", "actor", "created_at"),
    Index("ix_jobs_state", "state", "lease_expires"),
)

# Each `vision worker` beats here; the health endpoint reports the last beat.
workers = Table(
    "workers",
    metadata,
    Column("id", String(255), primary_key=True),  # host:pid:random
    Column("host", String(255), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("heartbeat_at", UTCDateTime, nullable=False),
    Column("stopped_at", UTCDateTime, nullable=True),
    Index("ix_workers_heartbeat", "heartbeat_at"),
)

# The last period each periodic task was claimed for (core/jobs/periodic.py): every worker's scheduler
# enqueues the periodic tasks, and only the run whose claim moves ``period_start`` forward does the work.
periodic_runs = Table(
    "periodic_runs",
    metadata,
    Column("task", String(64), primary_key=True),  # "vision.record_health"
    Column("period_start", UTCDateTime, nullable=False),
    Column("worker", String(255), nullable=False),  # the worker that claimed it (host:pid:random)
    Column("claimed_at", UTCDateTime, nullable=False),
)

# --- monitoring ----------------------------------------------------------------------------

# One row per check per run (core/monitoring): the Monitoring page's history. ``status`` is
# ok / warn / fail (green, amber, red); a failed ``critical`` check makes the health endpoint 503.
health_checks = Table(
    "health_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("checked_at", UTCDateTime, nullable=False),
    Column("check", String(32), nullable=False),
    Column("subject", String(128), nullable=False, default=""),
    Column("status", String(8), nullable=False),
    Column("critical", Boolean, nullable=False),
    Column("value", Float, nullable=True),
    Column("unit", String(16), nullable=False, default=""),
    Column("message", Text, nullable=False, default=""),
    Index("ix_health_checks_at", "checked_at"),
    Index("ix_health_checks_check", "check", "subject", "checked_at"),
)

# --- usage and cost (Business Metrics) -----------------------------------------------------

# One row per model per timestamp (core/usage): how much a model was used and what it ran on.
# Unique on (model_id, at): re-sending a record replaces nothing and adds nothing (idempotent).
usage_records = Table(
    "usage_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=False),
    Column("at", UTCDateTime, nullable=False),
    Column("predictions", Integer, nullable=False),
    Column("compute_hours", Float, nullable=False),
    Column("cpu_share", Float, nullable=True),  # 0..1 of the allocated CPU used on average
    Column("memory_share", Float, nullable=True),
    Column("gpu_share", Float, nullable=True),
    Column("source", String(16), nullable=False),  # api, csv, cli, demo
    Column("received_at", UTCDateTime, nullable=False),
    Index("ux_usage_model_at", "model_id", "at", unique=True),
)

# Cost rates per platform, with history: a rate applies from ``effective_from`` until the next
# row of the same platform. A change never rewrites the past.
cost_rates = Table(
    "cost_rates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("platform", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("per_1k_predictions", Float, nullable=False),
    Column("per_compute_hour", Float, nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ux_cost_rates_platform_from", "platform", "effective_from", unique=True),
)

# API keys an admin issues for automation (usage uploads); only the SHA-256 is kept.
api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key_hash", String(64), nullable=False, unique=True),
    Column("name", String(64), nullable=False),
    Column("scope", String(32), nullable=False),  # what it may do, e.g. "usage"
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)

# --- notifications and alert delivery ---------------------------------------------------------

# One row per cause (core/notify): ``dedupe_key`` (kind, model, window…) is unique, so the same
# cause for the same window is stored once however many times a rule runs. ``model_id`` is null
# for platform notifications (a failed health check), which only admins receive.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", String(32), nullable=False),
    Column("model_id", Integer, ForeignKey("models.id", ondelete="CASCADE"), nullable=True),
    Column("dedupe_key", String(255), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("title", String(200), nullable=False),
    Column("body", Text, nullable=False, default="{}"),  # JSON: the cause's numbers
    Column("link", Text, nullable=False, default=""),  # "?page=…&model=…"
    Index("ix_notifications_created", "created_at"),
    Index("ix_notifications_model", "model_id", "created_at"),
)

# Read state is per account: one row when an account has read a notification.
notification_reads = Table(
    "notification_reads",
    metadata,
    Column("notification_id", Integer, ForeignKey("notifications.id", ondelete="CASCADE"), primary_key=True),
    Column("username", String(32), primary_key=True),
    Column("read_at", UTCDateTime, nullable=False),
)

# Where notifications are delivered, per line of business ("" = every line of business).
# ``config`` is JSON without secrets; ``secrets`` is one Fernet token (the webhook URL, which
# carries the receiver's token, and the SMTP password).
alert_channels = Table(
    "alert_channels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False),
    Column("name_key", String(64), nullable=False, unique=True),
    Column("kind", String(16), nullable=False),  # webhook, email
    Column("lob", String(64), nullable=False, default=""),
    Column("config", Text, nullable=False, default="{}"),
    Column("secrets", Text, nullable=True),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("created_by", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per notification per channel: the delivery log (pending, sent, failed) with retries.
alert_deliveries = Table(
    "alert_deliveries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("notification_id", Integer, ForeignKey("notifications.id", ondelete="CASCADE"), nullable=False),
    Column("channel_id", Integer, ForeignKey("alert_channels.id", ondelete="CASCADE"), nullable=False),
    Column("state", String(16), nullable=False),  # pending, sent, failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("created_at", UTCDateTime, nullable=False),
    Column("last_attempt_at", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=True),
    Column("sent_at", UTCDateTime, nullable=True),
    Column("error", Text, nullable=False, default=""),  # why the last attempt failed, scrubbed
    Index("ux_deliveries_notification_channel", "notification_id", "channel_id", unique=True),
    Index("ix_deliveries_due", "state", "next_attempt_at"),
)

# Platform settings an admin changes at run time (JSON values), e.g. the performance drop that
# raises a notification, or whether LLM prompts are recorded.
app_settings = Table(
    "app_settings",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_by", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# --- LLM chat -----------------------------------------------------------------------------------

# Every prompt, tool call and answer of the LLM Chat page (core/llm), with who asked, about which
# model, and which endpoint answered (its base URL without credentials). Admins read it on the
# Monitoring page and with `vision llm log`; the app setting ``llm.record`` turns recording off.
llm_log = Table(
    "llm_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime, nullable=False),
    Column("conversation", String(36), nullable=False),  # one chat in one tab
    Column("username", String(32), nullable=False),
    Column("model", String(128), nullable=False, default=""),  # the model asked about ("" for the FAQ)
    Column("endpoint", String(255), nullable=False, default=""),  # "" when nothing was sent
    Column("kind", String(16), nullable=False),  # prompt, tool_call, answer, fallback, faq
    Column("content", Text, nullable=False),
    Index("ix_llm_log_at", "at"),
    Index("ix_llm_log_user", "username", "at"),
)

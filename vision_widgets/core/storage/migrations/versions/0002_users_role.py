"""users.profile is renamed users.role (the account tier is a role, as rbac calls it).

Revision ID: 0002_users_role
Revises: 0001_baseline
Create Date: 2026-11-27

A rename keeps every value: each account's role is its old profile. On SQLite
batch mode rebuilds the table (copy, drop, rename); ``upgrade.py`` turns
foreign keys off around the migration so dropping the old ``users`` table does
not cascade into ``sessions``, and checks them before committing.
"""
from __future__ import annotations

from alembic import op

revision = "0002_users_role"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column("profile", new_column_name="role")


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.alter_column("role", new_column_name="profile")

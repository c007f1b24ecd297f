"""login attempts: every console login attempt with its source and outcome, for the audit and
the account lockout

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "login_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", db.types.UTCDateTime(), nullable=False),
        sa.Column("user", text(), nullable=False),
        sa.Column("source", text(), nullable=False),
        sa.Column("outcome", text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_attempt_at", "login_attempt", ["at"])
    op.create_index("ix_login_attempt_user", "login_attempt", ["user"])


def downgrade() -> None:
    op.drop_index("ix_login_attempt_user", "login_attempt")
    op.drop_index("ix_login_attempt_at", "login_attempt")
    op.drop_table("login_attempt")

"""live_override: an operator's go-live without meeting the gate, with its reason, size cap,
expiry and how it ended (the audit of every override)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "live_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("who", text(), nullable=False),
        sa.Column("reason", text(), nullable=False),
        sa.Column("size_cap", sa.Float(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("param_version", sa.Integer(), nullable=False),
        sa.Column("model_version", text(), nullable=False),
        sa.Column("gate_summary", text(), nullable=False),
        sa.Column("used_days", sa.JSON(), nullable=True),
        sa.Column("ended_at", db.types.UTCDateTime(), nullable=True),
        sa.Column("ended_reason", text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_live_override_created_at", "live_override", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_live_override_created_at", table_name="live_override")
    op.drop_table("live_override")

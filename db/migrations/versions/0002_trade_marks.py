"""trade marks (the newest bid of an open trade, for unrealized P&L) and an index on block codes

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trade") as batch:
        batch.add_column(sa.Column("mark_bid", sa.Float(), nullable=True))
        batch.add_column(sa.Column("marked_at", db.types.UTCDateTime(), nullable=True))
    op.create_index("ix_decision_blocked_by", "decision", ["blocked_by"])


def downgrade() -> None:
    op.drop_index("ix_decision_blocked_by", table_name="decision")
    with op.batch_alter_table("trade") as batch:
        batch.drop_column("marked_at")
        batch.drop_column("mark_bid")

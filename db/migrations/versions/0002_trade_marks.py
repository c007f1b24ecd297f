"""trade marks (the newest bid of an open trade, for unrealized P&L); indexes for the console's filters

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
TRADE_FILTER_COLUMNS = ("entry_reason_code", "regime", "model_version", "param_version")


def upgrade() -> None:
    with op.batch_alter_table("trade") as batch:
        batch.add_column(sa.Column("mark_bid", sa.Float(), nullable=True))
        batch.add_column(sa.Column("marked_at", db.types.UTCDateTime(), nullable=True))
    op.create_index("ix_decision_blocked_by", "decision", ["blocked_by"])
    for column in TRADE_FILTER_COLUMNS:
        op.create_index(f"ix_trade_{column}", "trade", [column])


def downgrade() -> None:
    op.drop_index("ix_decision_blocked_by", table_name="decision")
    for column in TRADE_FILTER_COLUMNS:
        op.drop_index(f"ix_trade_{column}", table_name="trade")
    with op.batch_alter_table("trade") as batch:
        batch.drop_column("marked_at")
        batch.drop_column("mark_bid")

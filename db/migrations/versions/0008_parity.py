"""parity reports: each recorded day replayed on its recordings, its decision agreement and the
real fills beside the simulated ones

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "parityday",
        sa.Column("day", text(), nullable=False),
        sa.Column("computed_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("execution", text(), nullable=False),
        sa.Column("model_version", text(), nullable=False),
        sa.Column("decisions", sa.Integer(), nullable=False),
        sa.Column("agreeing", sa.Integer(), nullable=False),
        sa.Column("agreement_pct", sa.Float(), nullable=False),
        sa.Column("fills_both", sa.Integer(), nullable=False),
        sa.Column("live_only", sa.Integer(), nullable=False),
        sa.Column("sim_only", sa.Integer(), nullable=False),
        sa.Column("cost_p10", sa.Float(), nullable=True),
        sa.Column("cost_median", sa.Float(), nullable=True),
        sa.Column("cost_p90", sa.Float(), nullable=True),
        sa.Column("slippage_pct_median", sa.Float(), nullable=True),
        sa.Column("differences", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "parityfill",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("day", text(), nullable=False),
        sa.Column("time", db.types.UTCDateTime(), nullable=False),
        sa.Column("contract", text(), nullable=False),
        sa.Column("side", text(), nullable=False),
        sa.Column("opening", sa.Boolean(), nullable=False),
        sa.Column("reason_code", text(), nullable=False),
        sa.Column("live_qty", sa.Integer(), nullable=False),
        sa.Column("live_price", sa.Float(), nullable=True),
        sa.Column("sim_qty", sa.Integer(), nullable=False),
        sa.Column("sim_price", sa.Float(), nullable=True),
        sa.Column("outcome", text(), nullable=False),
        sa.Column("slippage", sa.Float(), nullable=True),
        sa.Column("slippage_pct", sa.Float(), nullable=True),
        sa.Column("cost_per_contract", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_parityfill_day", "parityfill", ["day"])


def downgrade() -> None:
    op.drop_index("ix_parityfill_day", table_name="parityfill")
    op.drop_table("parityfill")
    op.drop_table("parityday")

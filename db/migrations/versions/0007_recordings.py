"""recorded market inputs: option quotes near the money each minute, whether a recorded bar's
feed was degraded, and the daily VIX closes behind each day's IV rank

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bar") as batch:
        batch.add_column(sa.Column("degraded", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "optionquote",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("time", db.types.UTCDateTime(), nullable=False),
        sa.Column("quote_time", db.types.UTCDateTime(), nullable=False),
        sa.Column("underlying", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("contract", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("bid", sa.Float(), nullable=False),
        sa.Column("ask", sa.Float(), nullable=False),
        sa.Column("bid_size", sa.Integer(), nullable=False),
        sa.Column("ask_size", sa.Integer(), nullable=False),
        sa.Column("iv", sa.Float(), nullable=True),
        sa.Column("delta", sa.Float(), nullable=True),
        sa.Column("spot", sa.Float(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_optionquote_time", "optionquote", ["time"])
    op.create_table(
        "vixhistory",
        sa.Column("day", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("closes", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_optionquote_underlying_time", "optionquote", ["underlying", "time"])


def downgrade() -> None:
    op.drop_table("vixhistory")
    op.drop_index("ix_optionquote_underlying_time", table_name="optionquote")
    op.drop_index("ix_optionquote_time", table_name="optionquote")
    op.drop_table("optionquote")
    with op.batch_alter_table("bar") as batch:
        batch.drop_column("degraded")

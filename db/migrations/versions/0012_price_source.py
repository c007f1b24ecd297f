"""price source: where the option price of each decision, simulated fill and trade entry came from
(real_bar, recorded_quote, anchored, model, live_quote, intrinsic; broker for a real broker's fill)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("decision") as batch:
        batch.add_column(sa.Column("price_source", text(), nullable=True))
    with op.batch_alter_table("fill") as batch:
        batch.add_column(sa.Column("price_source", text(), nullable=True))
    with op.batch_alter_table("trade") as batch:
        batch.add_column(sa.Column("price_source", text(), nullable=True))
    op.create_index("ix_trade_price_source", "trade", ["price_source"])


def downgrade() -> None:
    op.drop_index("ix_trade_price_source", "trade")
    with op.batch_alter_table("trade") as batch:
        batch.drop_column("price_source")
    with op.batch_alter_table("fill") as batch:
        batch.drop_column("price_source")
    with op.batch_alter_table("decision") as batch:
        batch.drop_column("price_source")

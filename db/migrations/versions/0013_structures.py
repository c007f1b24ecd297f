"""structures: a trade is a structure of legs and a multi-leg order stores its legs; a fill is
identified by its contract too (two legs of one order can fill the same quantity at one price)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("legs", sa.JSON(), nullable=True))
    with op.batch_alter_table("trade") as batch:
        batch.add_column(sa.Column("structure", text(), nullable=True))
        batch.add_column(sa.Column("legs", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("max_loss", sa.Float(), nullable=True))
        batch.add_column(sa.Column("max_gain", sa.Float(), nullable=True))
    op.create_index("ix_trade_structure", "trade", ["structure"])
    with op.batch_alter_table("fill") as batch:
        batch.drop_constraint("uq_fill_identity", type_="unique")
        batch.create_unique_constraint("uq_fill_identity", ["client_order_id", "contract", "time", "qty", "price"])


def downgrade() -> None:
    with op.batch_alter_table("fill") as batch:
        batch.drop_constraint("uq_fill_identity", type_="unique")
        batch.create_unique_constraint("uq_fill_identity", ["client_order_id", "time", "qty", "price"])
    op.drop_index("ix_trade_structure", "trade")
    with op.batch_alter_table("trade") as batch:
        batch.drop_column("max_gain")
        batch.drop_column("max_loss")
        batch.drop_column("legs")
        batch.drop_column("structure")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("legs")

"""run.trading_host: the broker host a paper or live run traded on (only Alpaca's paper endpoint
earns the go-live gate's paper record; runs from before this migration have none and earn nothing)

Revision ID: 0019
Revises: 0018_owed_shares
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0019"
down_revision = "0018_owed_shares"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.add_column(sa.Column("trading_host", sqlmodel.sql.sqltypes.AutoString(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run") as batch:
        batch.drop_column("trading_host")

"""decision.p_neutral: the probability of a neutral entry (the credit action set's iron condor);
p_buy_call and p_buy_put hold the bullish and bearish entry of any action set

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decision") as batch:
        batch.add_column(sa.Column("p_neutral", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("decision") as batch:
        batch.drop_column("p_neutral")

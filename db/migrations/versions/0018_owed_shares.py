"""owedshares: the shares an option exercise or assignment owes the account, tracked until they
arrive and are closed or reported

Revision ID: 0018_owed_shares
Revises: 0017
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0018_owed_shares"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "owedshares",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("activity_id", text(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("underlying", text(), nullable=False),
        sa.Column("contract", text(), nullable=False),
        sa.Column("kind", text(), nullable=False),
        sa.Column("shares", sa.Integer(), nullable=False),
        sa.Column("baseline", sa.Integer(), nullable=False),
        sa.Column("status", text(), nullable=False),
        sa.Column("result", text(), nullable=True),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("activity_id"),
    )
    op.create_index("ix_owedshares_status", "owedshares", ["status"])


def downgrade() -> None:
    op.drop_index("ix_owedshares_status", table_name="owedshares")
    op.drop_table("owedshares")

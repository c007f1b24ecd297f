"""control requests: close one position or cancel one order from the console, carried out by the
worker through its order path

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "controlrequest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", db.types.UTCDateTime(), nullable=False),
        sa.Column("who", text(), nullable=False),
        sa.Column("kind", text(), nullable=False),
        sa.Column("trade_id", sa.Integer(), nullable=True),
        sa.Column("client_order_id", text(), nullable=True),
        sa.Column("reason", text(), nullable=False),
        sa.Column("status", text(), nullable=False),
        sa.Column("result", text(), nullable=True),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_controlrequest_at", "controlrequest", ["at"])
    op.create_index("ix_controlrequest_status", "controlrequest", ["status"])


def downgrade() -> None:
    op.drop_index("ix_controlrequest_status", "controlrequest")
    op.drop_index("ix_controlrequest_at", "controlrequest")
    op.drop_table("controlrequest")

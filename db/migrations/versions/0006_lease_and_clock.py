"""an atomic worker lease with a fencing token, the clock of the last completed cycle (written
with that cycle's rows), and a database identity for stable client order ids

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import op

import db.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workerstatus") as batch:
        batch.add_column(sa.Column("lease_token", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("cycle_time", db.types.UTCDateTime(), nullable=True))
    with op.batch_alter_table("controlstate") as batch:
        batch.add_column(sa.Column("database_id", sa.String(), nullable=True))
    op.get_bind().execute(
        sa.text("UPDATE controlstate SET database_id = :d WHERE database_id IS NULL"), {"d": str(uuid.uuid4())}
    )
    # a restart resumes after the last cycle: before this migration that was the heartbeat's clock
    op.get_bind().execute(sa.text("UPDATE workerstatus SET cycle_time = sim_time"))


def downgrade() -> None:
    with op.batch_alter_table("controlstate") as batch:
        batch.drop_column("database_id")
    with op.batch_alter_table("workerstatus") as batch:
        batch.drop_column("cycle_time")
        batch.drop_column("lease_token")

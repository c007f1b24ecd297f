"""chat_command.delivery: whether the bot's reply to a command reached Telegram (sent, sent cut
to fit, or failed with the error), so the audit never calls a reply sent that was not

Revision ID: 0020_chat_command_delivery
Revises: 0019
Create Date: 2026-12-13
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import sqlmodel

revision = "0020_chat_command_delivery"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_command") as batch:
        batch.add_column(sa.Column("delivery", sqlmodel.sql.sqltypes.AutoString(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("chat_command") as batch:
        batch.drop_column("delivery")

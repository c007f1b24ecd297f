"""chat commands: every command a chat user sent to the bot and what it did (the audit of the
phone's control)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types
import sqlmodel

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    text = sqlmodel.sql.sqltypes.AutoString
    op.create_table(
        "chat_command",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", db.types.UTCDateTime(), nullable=False),
        sa.Column("user_id", sa.BigInteger(), nullable=False),
        sa.Column("username", text(), nullable=False),
        sa.Column("command", text(), nullable=False),
        sa.Column("args", text(), nullable=False),
        sa.Column("outcome", text(), nullable=False),
        sa.Column("reply", text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_chat_command_at", "chat_command", ["at"])
    op.create_index("ix_chat_command_user_id", "chat_command", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_chat_command_user_id", "chat_command")
    op.drop_index("ix_chat_command_at", "chat_command")
    op.drop_table("chat_command")

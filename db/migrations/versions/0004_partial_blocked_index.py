"""decision.blocked_by index only over blocked rows: most decisions are not blocked, and every
index entry is paid for on each of the one-per-bar-and-symbol inserts

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None
BLOCKED = sa.text("blocked_by IS NOT NULL")


def upgrade() -> None:
    op.drop_index("ix_decision_blocked_by", table_name="decision")
    op.create_index(
        "ix_decision_blocked_by", "decision", ["blocked_by"], sqlite_where=BLOCKED, postgresql_where=BLOCKED
    )


def downgrade() -> None:
    op.drop_index("ix_decision_blocked_by", table_name="decision")
    op.create_index("ix_decision_blocked_by", "decision", ["blocked_by"])

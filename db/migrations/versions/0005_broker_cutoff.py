"""the active parameter version obeys the broker's 15:30 ET cutoff: an end-of-day flatten or an
entry cutoff at or after it (the old default flatten was 15:40) moves to a new version, 15:25 ET

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None
CUTOFF_MIN = 30  # core.execution.BROKER_CUTOFF_BEFORE_CLOSE_MIN when this was written
FLATTEN_MIN = 35


def upgrade() -> None:
    conn = op.get_bind()
    row = conn.execute(sa.text("SELECT active_param_version FROM controlstate WHERE id = 1")).first()
    if row is None or row[0] is None:
        return
    found = conn.execute(sa.text("SELECT \"values\" FROM paramversion WHERE id = :v"), {"v": row[0]}).first()
    if found is None:
        return
    values = found[0] if isinstance(found[0], dict) else json.loads(found[0])
    flatten = int(values.get("flatten_before_close_min", FLATTEN_MIN))
    cutoff = int(values.get("entry_cutoff_before_close_min", 60))
    if flatten > CUTOFF_MIN and cutoff > CUTOFF_MIN:
        return
    values = dict(values, flatten_before_close_min=max(flatten, FLATTEN_MIN))
    values["entry_cutoff_before_close_min"] = max(cutoff, values["flatten_before_close_min"] + 1)
    note = (
        "migration 0005: the broker refuses orders on expiring contracts from 30 minutes before the close; "
        "the flatten moves to 35 minutes before it"
    )
    table = sa.table(
        "paramversion",
        sa.column("id", sa.Integer),
        sa.column("values", sa.JSON),
        sa.column("author", sa.String),
        sa.column("note", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    conn.execute(
        table.insert().values(
            values=values, author="migration", note=note, created_at=datetime.now(UTC).replace(tzinfo=None)
        )
    )
    new_id = conn.execute(sa.text("SELECT MAX(id) FROM paramversion")).scalar()
    conn.execute(sa.text("UPDATE controlstate SET active_param_version = :v WHERE id = 1"), {"v": new_id})


def downgrade() -> None:
    """Nothing to undo: the new version stays in the history."""

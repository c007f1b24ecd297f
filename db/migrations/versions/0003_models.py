"""RL policy memory (LSTM state per symbol), the model registry and walk-forward evaluations

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import db.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policymemory",
        sa.Column("symbol", sa.String(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("day", sa.String(), nullable=False),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("state", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("symbol", "model_version"),
    )
    op.create_table(
        "modelrecord",
        sa.Column("version", sa.String(), nullable=False),
        sa.Column("path", sa.String(), nullable=False),
        sa.Column("metadata_json", sa.JSON(), nullable=True),
        sa.Column("registered_at", db.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("version"),
    )
    op.create_table(
        "modelevaluation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.String(), nullable=False),
        sa.Column("created_at", db.types.UTCDateTime(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("policy", sa.String(), nullable=False),
        sa.Column("fold", sa.Integer(), nullable=False),
        sa.Column("seed", sa.Integer(), nullable=True),
        sa.Column("train_start", sa.String(), nullable=False),
        sa.Column("train_end", sa.String(), nullable=False),
        sa.Column("test_start", sa.String(), nullable=False),
        sa.Column("test_end", sa.String(), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_modelevaluation_evaluation_id", "modelevaluation", ["evaluation_id"])
    op.create_index("ix_modelevaluation_model_version", "modelevaluation", ["model_version"])


def downgrade() -> None:
    op.drop_index("ix_modelevaluation_model_version", table_name="modelevaluation")
    op.drop_index("ix_modelevaluation_evaluation_id", table_name="modelevaluation")
    op.drop_table("modelevaluation")
    op.drop_table("modelrecord")
    op.drop_table("policymemory")

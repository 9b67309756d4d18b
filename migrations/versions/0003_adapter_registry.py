"""adapter registry: versions and their promotion history

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "adapter_versions",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("shadow", sa.Boolean(), nullable=False),
        sa.Column("parent", sa.String(length=200), nullable=True),
        sa.Column("data_hash", sa.String(length=64), nullable=True),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_adapter_versions_state", "adapter_versions", ["state"])
    op.create_table(
        "adapter_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("adapter_id", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("previous_id", sa.String(length=200), nullable=True),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("forced", sa.Boolean(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["adapter_id"], ["adapter_versions.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_adapter_events_adapter_id", "adapter_events", ["adapter_id"])


def downgrade() -> None:
    op.drop_index("ix_adapter_events_adapter_id", table_name="adapter_events")
    op.drop_table("adapter_events")
    op.drop_index("ix_adapter_versions_state", table_name="adapter_versions")
    op.drop_table("adapter_versions")

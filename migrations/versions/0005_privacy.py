"""privacy: erasure records, the turns each adapter learnt from, retained turns, maintenance leases

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("adapter_versions") as batch:
        batch.add_column(sa.Column("erased_turns", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "adapter_training_turns",
        sa.Column("adapter_id", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["adapter_id"], ["adapter_versions.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("adapter_id", "message_id"),
    )
    op.create_index("ix_adapter_training_turns_message_id", "adapter_training_turns", ["message_id"])
    op.create_table(
        "erasure_records",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("conversations", sa.Integer(), nullable=False),
        sa.Column("messages", sa.Integer(), nullable=False),
        sa.Column("adapters_marked", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_erasure_records_created_at", "erasure_records", ["created_at"])
    op.create_table(
        "retained_training_turns",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("labelled_by", sa.String(length=100), nullable=True),
        sa.Column("labelled_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id"),
    )
    op.create_table(
        "maintenance_leases",
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("holder", sa.String(length=100), nullable=True),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_run_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )


def downgrade() -> None:
    op.drop_table("maintenance_leases")
    op.drop_table("retained_training_turns")
    op.drop_index("ix_erasure_records_created_at", table_name="erasure_records")
    op.drop_table("erasure_records")
    op.drop_index("ix_adapter_training_turns_message_id", table_name="adapter_training_turns")
    op.drop_table("adapter_training_turns")
    with op.batch_alter_table("adapter_versions") as batch:
        batch.drop_column("erased_at")
        batch.drop_column("erased_turns")

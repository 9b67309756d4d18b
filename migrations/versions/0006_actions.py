"""business actions: action definitions, an intent's action, per-conversation dialogue state

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("responses") as batch:
        batch.add_column(sa.Column("action", sa.String(length=63), nullable=True))
    op.create_table(
        "actions",
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "dialogue_states",
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("action", sa.String(length=63), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("asking", sa.String(length=63), nullable=True),
        sa.Column("wrong_answers", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("conversation_id"),
    )
    op.create_index("ix_dialogue_states_updated_at", "dialogue_states", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_dialogue_states_updated_at", table_name="dialogue_states")
    op.drop_table("dialogue_states")
    op.drop_table("actions")
    with op.batch_alter_table("responses") as batch:
        batch.drop_column("action")

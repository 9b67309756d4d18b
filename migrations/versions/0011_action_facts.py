"""analytics: the business action behind a bot reply (name, outcome, milliseconds)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.add_column(sa.Column("action_name", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("action_outcome", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("action_ms", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("messages") as batch:
        batch.drop_column("action_ms")
        batch.drop_column("action_outcome")
        batch.drop_column("action_name")

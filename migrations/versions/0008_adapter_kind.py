"""retriever adapters in the registry: adapter_versions.kind (intent or retriever)

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every version registered so far is an intent adapter.
    with op.batch_alter_table("adapter_versions") as batch:
        batch.add_column(sa.Column("kind", sa.String(length=16), nullable=False, server_default="intent"))
        batch.create_index("ix_adapter_versions_kind", ["kind"])


def downgrade() -> None:
    with op.batch_alter_table("adapter_versions") as batch:
        batch.drop_index("ix_adapter_versions_kind")
        batch.drop_column("kind")

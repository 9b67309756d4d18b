"""staff console: accounts, sessions, intent proposals, CSAT, review and hand-off columns

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "staff_users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("display_name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "staff_sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["staff_users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    op.create_index("ix_staff_sessions_user_id", "staff_sessions", ["user_id"])
    op.create_index("ix_staff_sessions_expires_at", "staff_sessions", ["expires_at"])
    op.create_table(
        "intent_proposals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("proposed_by", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "csat_ratings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_csat_ratings_conversation_id", "csat_ratings", ["conversation_id"])
    op.create_index("ix_csat_ratings_created_at", "csat_ratings", ["created_at"])
    # Plain ADD COLUMN, never batch mode: rebuilding `conversations` on SQLite would drop the old
    # table, and with foreign keys on that cascades into every message.
    op.add_column("conversations", sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("conversations", sa.Column("reviewed_by", sa.String(length=100), nullable=True))
    if _is_sqlite():
        # SQLite accepts a REFERENCES clause on ADD COLUMN (Alembic would want batch mode). A
        # downgrade on SQLite leaves this column behind (see there), so it may exist already.
        if "assigned_to_id" not in _columns("conversations"):
            op.execute(
                "ALTER TABLE conversations ADD COLUMN assigned_to_id INTEGER "
                "REFERENCES staff_users (id) ON DELETE SET NULL"
            )
    else:
        op.add_column("conversations", sa.Column("assigned_to_id", sa.Integer(), nullable=True))
        op.create_foreign_key(
            "fk_conversations_assigned_to_id",
            "conversations",
            "staff_users",
            ["assigned_to_id"],
            ["id"],
            ondelete="SET NULL",
        )
    op.create_index("ix_conversations_status", "conversations", ["status"])
    op.create_index("ix_conversations_created_at", "conversations", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_conversations_created_at", table_name="conversations")
    op.drop_index("ix_conversations_status", table_name="conversations")
    if _is_sqlite():
        # SQLite cannot drop a column that takes part in a foreign key, and rebuilding the
        # table is unsafe (see upgrade): assigned_to_id stays behind, unused and NULL.
        op.execute("UPDATE conversations SET assigned_to_id = NULL")
        op.execute("ALTER TABLE conversations DROP COLUMN reviewed_by")
        op.execute("ALTER TABLE conversations DROP COLUMN reviewed_at")
    else:
        op.drop_constraint("fk_conversations_assigned_to_id", "conversations", type_="foreignkey")
        op.drop_column("conversations", "assigned_to_id")
        op.drop_column("conversations", "reviewed_by")
        op.drop_column("conversations", "reviewed_at")
    op.drop_table("csat_ratings")
    op.drop_table("intent_proposals")
    op.drop_table("staff_sessions")
    op.drop_table("staff_users")


def _is_sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _columns(table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(op.get_bind()).get_columns(table)}

"""analytics: daily roll-ups of the figures for closed days, kept honest by triggers; an index
of the replies that called a business action

Revision ID: 0012
Revises: 0011

``analytics_days`` counts, per UTC day, every write after the day ended that changes one of
its figures (a late thumb or CSAT rating, a suggestion click after midnight, a conversation
taken over or resumed, an erasure). The counting is done by triggers so that no write path,
ORM or Core, cascade or bulk delete, can forget it. ``bot/insights/rollup.py`` builds a day's
sums under that row's lock and records the count it saw; a later write moves the count on and
the day is read live again until it is rebuilt.

PostgreSQL: statement-level triggers with transition tables, so a bulk delete marks each day
once instead of updating one row per deleted row. SQLite: row-level triggers (one writer at a
time, and rows are updated in place).
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

# The timestamps whose UTC days a changed row ``r`` touches, per table. Hand-offs (agent
# messages, handoff replies) count for their conversation's day as well as their own; a
# suggestion click for the day of the reply that offered it.
STAMPS = {
    "conversations": "SELECT r.created_at AS stamp FROM {rows}",
    "messages": (
        "SELECT r.created_at AS stamp FROM {rows} UNION ALL "
        "SELECT c.created_at FROM {rows} JOIN conversations c ON c.id = r.conversation_id "
        "WHERE r.role = 'agent' OR r.reply_action = 'handoff'"
    ),
    "feedback": "SELECT m.created_at AS stamp FROM {rows} JOIN messages m ON m.id = r.message_id",
    "labels": (
        "SELECT m.created_at AS stamp FROM {rows} JOIN messages m ON m.reply_to_id = r.message_id "
        "WHERE r.source = 'suggestion_click'"
    ),
    "csat_ratings": (
        "SELECT c.created_at AS stamp FROM {rows} JOIN conversations c ON c.id = r.conversation_id"
    ),
}
# Columns whose change can move a figure: an update that changes none of them (a transcript
# marked reviewed, a returning customer's page context) leaves the day's sums alone.
UPDATED = {
    "conversations": ("status", "assigned_to_id", "updated_at", "last_seq", "first_adapter", "created_at"),
    "messages": (
        "role",
        "created_at",
        "conversation_id",
        "reply_to_id",
        "reply_action",
        "reply_intent",
        "reply_confidence",
        "reply_adapter",
        "reply_ms",
    ),
    "feedback": ("message_id", "rating"),
    "labels": ("message_id", "source"),
    "csat_ratings": ("conversation_id", "rating"),
}
# The row versions each event's trigger reads: an update counts the days of both.
EVENTS = {"insert": ("NEW",), "update": ("OLD", "NEW"), "delete": ("OLD",)}
# The business actions' report reads only the replies that called one.
ACTION_CALLS = "action_name IS NOT NULL"

POSTGRES_FUNCTION = """
CREATE FUNCTION analytics_{table}_{event}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO analytics_days AS d (day, changes)
    SELECT DISTINCT CAST((s.stamp AT TIME ZONE 'UTC') AS DATE), 1
    FROM ({stamps}) AS s
    WHERE s.stamp < date_trunc('day', clock_timestamp() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'
    ORDER BY 1
    ON CONFLICT (day) DO UPDATE SET changes = d.changes + 1;
    RETURN NULL;
END $$
"""
POSTGRES_TRIGGER = """
CREATE TRIGGER analytics_{table}_{event} AFTER {event} ON {table}
REFERENCING {tables} FOR EACH STATEMENT
EXECUTE FUNCTION analytics_{table}_{event}()
"""
POSTGRES_TRUNCATE = """
CREATE FUNCTION analytics_truncated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE analytics_days SET changes = changes + 1;
    RETURN NULL;
END $$
"""

# An upsert, not INSERT OR IGNORE: a foreign-key cascade's own conflict policy (ABORT) overrides
# the OR IGNORE of a trigger it fires, and an erasure's delete failed on the day's existing row.
SQLITE_TRIGGER = """
CREATE TRIGGER analytics_{table}_{event} AFTER {event_clause} ON {table} FOR EACH ROW {when} BEGIN
    INSERT INTO analytics_days (day, changes)
    SELECT DISTINCT date(s.stamp), 1 FROM ({stamps}) AS s WHERE date(s.stamp) < date('now')
    ON CONFLICT (day) DO UPDATE SET changes = changes + 1;
END
"""


def upgrade() -> None:
    op.create_table(
        "analytics_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.Column("built_changes", sa.Integer(), nullable=True),
        sa.Column("built_for", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_table(
        "analytics_conversation_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("adapter", sa.String(length=200), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("conversations", "handed_off", "decided", "contained")
        ),
        *(sa.Column(f"csat_{rating}", sa.Integer(), nullable=False) for rating in range(1, 6)),
        sa.PrimaryKeyConstraint("day", "adapter"),
    )
    op.create_table(
        "analytics_turn_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("adapter", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("intent", sa.String(length=100), nullable=False),
        *(
            sa.Column(name, sa.Integer(), nullable=False)
            for name in ("turns", "suggestion_clicks", "thumbs_up", "thumbs_down")
        ),
        sa.Column("confidence_sum", sa.Float(), nullable=False),
        *(sa.Column(f"confidence_{tenth}", sa.Integer(), nullable=False) for tenth in range(10)),
        sa.PrimaryKeyConstraint("day", "adapter", "action", "intent"),
    )
    op.create_table(
        "analytics_latency_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("adapter", sa.String(length=200), nullable=False),
        sa.Column("ms", sa.Integer(), nullable=False),
        sa.Column("replies", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "adapter", "ms"),
    )
    op.create_index(
        "ix_messages_action_calls",
        "messages",
        ["created_at"],
        postgresql_where=sa.text(ACTION_CALLS),
        sqlite_where=sa.text(ACTION_CALLS),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        _postgres_triggers()
    elif dialect == "sqlite":
        _sqlite_triggers()


def _postgres_triggers() -> None:
    for table, stamps in STAMPS.items():
        for event, versions in EVENTS.items():
            both = " UNION ALL ".join(
                stamps.format(rows=_postgres_rows(table, version, changed_only=event == "update"))
                for version in versions
            )
            op.execute(POSTGRES_FUNCTION.format(table=table, event=event, stamps=both))
            tables = " ".join(f"{version} TABLE AS {version}_rows" for version in versions)
            op.execute(POSTGRES_TRIGGER.format(table=table, event=event, tables=tables))
    op.execute(POSTGRES_TRUNCATE)
    for table in STAMPS:
        op.execute(
            f"CREATE TRIGGER analytics_{table}_truncate AFTER TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION analytics_truncated()"
        )


def _postgres_rows(table: str, version: str, changed_only: bool) -> str:
    """A transition table as ``r``; for an update only the rows whose figures' columns changed."""
    if not changed_only:
        return f"{version}_rows r"
    columns = UPDATED[table]
    before = ", ".join(f"o.{column}" for column in columns)
    after = ", ".join(f"n.{column}" for column in columns)
    return (
        f"(SELECT {version[0].lower()}.* FROM old_rows o JOIN new_rows n ON n.id = o.id "
        f"WHERE ROW({before}) IS DISTINCT FROM ROW({after})) AS r"
    )


def _sqlite_triggers() -> None:
    for table in STAMPS:
        for event, versions in EVENTS.items():
            clause, when = event.upper(), ""
            if event == "update":
                clause = f"UPDATE OF {', '.join(UPDATED[table])}"
                when = "WHEN " + " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in UPDATED[table])
            both = " UNION ALL ".join(_sqlite_stamps(table, version) for version in versions)
            op.execute(
                SQLITE_TRIGGER.format(table=table, event=event, event_clause=clause, when=when, stamps=both)
            )


def _sqlite_stamps(table: str, version: str) -> str:
    """The table's stamps with ``r`` read as the trigger's OLD or NEW row (a row trigger sees
    one row, not a table: the stamps select from a one-row subquery instead)."""
    sql = STAMPS[table].format(rows="(SELECT 1) AS one")
    return re.sub(r"\br\.", f"{version}.", sql)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in STAMPS:
        for event in (*EVENTS, "truncate"):
            if dialect == "postgresql":
                op.execute(f"DROP TRIGGER IF EXISTS analytics_{table}_{event} ON {table}")
            elif dialect == "sqlite":
                op.execute(f"DROP TRIGGER IF EXISTS analytics_{table}_{event}")
            if dialect == "postgresql" and event != "truncate":
                op.execute(f"DROP FUNCTION IF EXISTS analytics_{table}_{event}()")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS analytics_truncated()")
    op.drop_index("ix_messages_action_calls", table_name="messages")
    for table in (
        "analytics_latency_days",
        "analytics_turn_days",
        "analytics_conversation_days",
        "analytics_days",
    ):
        op.drop_table(table)

"""Migration 0002 keeps every existing conversation and message, up and down and up again."""

from __future__ import annotations

from sqlalchemy import create_engine, inspect, text

from bot.config import sqlalchemy_url
from bot.db.migrate import downgrade, upgrade


def test_upgrade_and_downgrade_keep_existing_chats(database_url: str) -> None:
    upgrade(database_url, "0001")
    engine = create_engine(sqlalchemy_url(database_url))
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO conversations (id, token_hash, last_seq, status, created_at, updated_at) "
                "VALUES ('c1', 'hash', 1, 'bot', '2024-01-01 00:00:00', '2024-01-01 00:00:00')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO messages (conversation_id, seq, role, text, payload, created_at) "
                "VALUES ('c1', 1, 'user', 'hello', '{}', '2024-01-01 00:00:00')"
            )
        )

    def messages() -> int:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT count(*) FROM messages")).scalar_one())

    upgrade(database_url, "0002")
    columns = {column["name"] for column in inspect(engine).get_columns("conversations")}
    assert {"reviewed_at", "reviewed_by", "assigned_to_id"} <= columns
    assert "staff_users" in inspect(engine).get_table_names()
    assert messages() == 1
    downgrade(database_url, "0001")
    assert "staff_users" not in inspect(engine).get_table_names()
    assert messages() == 1
    upgrade(database_url, "heads")
    assert messages() == 1
    engine.dispose()

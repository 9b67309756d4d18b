"""``bot conversations export``: one JSON line per conversation, after a real WebSocket chat."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.cli import main
from bot.config import Settings
from bot.db.models import Message
from bot.db.review import set_reviewed
from bot.services import Models


@pytest.fixture
def db_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url})


@pytest.fixture
def chatted(db_settings: Settings, models: Models) -> Iterator[dict[str, Any]]:
    """Two conversations through /ws/chat: one with two turns and a thumbs-down, one with one turn."""
    with TestClient(create_app(db_settings, models)) as client:
        with client.websocket_connect("/ws/chat") as ws:
            first = say_hello(ws)
            say(ws, "where is my parcel? it has not arrived", "a1")
            ws.send_json({"type": "feedback", "seq": 2, "rating": "down"})
            assert ws.receive_json()["type"] == "feedback_ok"
            say(ws, "thanks a lot", "a2")
            for rating, comment in ((2, ""), (4, "quick answer in the end")):
                ws.send_json({"type": "csat", "rating": rating, "comment": comment})
                assert ws.receive_json()["type"] == "csat_ok"
        with client.websocket_connect("/ws/chat") as ws:
            second = say_hello(ws)
            say(ws, "I forgot my password", "b1")
        services = client.app.state.services  # type: ignore[attr-defined]
        assert set_reviewed(services.session_factory, second["conversation_id"], True, "ann")
        with services.session_factory() as session:
            ids = {(m.conversation_id, m.seq): m.id for m in session.scalars(select(Message))}
    yield {
        "conversations": [first["conversation_id"], second["conversation_id"]],
        "message_ids": ids,
        "adapter_version": services.slot.current.version,
    }


def say_hello(ws: Any) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": None, "last_seq": None})
    welcome: dict[str, Any] = ws.receive_json()
    return welcome


def say(ws: Any, text: str, client_id: str) -> None:
    ws.send_json({"type": "message", "client_id": client_id, "text": text})
    assert ws.receive_json()["type"] == "ack"
    assert ws.receive_json()["role"] == "bot"


def export(database_url: str, *args: str) -> Result:
    result = CliRunner().invoke(
        main, ["conversations", "export", "--format", "jsonl", *args], env={"BOT_DATABASE_URL": database_url}
    )
    assert result.exit_code == 0, result.output
    return result


def test_export_writes_one_line_per_conversation_with_messages_predictions_and_feedback(
    db_settings: Settings, chatted: dict[str, Any]
) -> None:
    result = export(db_settings.database_url)
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [record["id"] for record in records] == chatted["conversations"]
    assert "exported 2 conversations" in result.stderr

    first, second = records
    assert [(m["seq"], m["role"]) for m in first["messages"]] == [
        (1, "user"),
        (2, "bot"),
        (3, "user"),
        (4, "bot"),
    ]
    assert [m["id"] for m in first["messages"]] == [
        chatted["message_ids"][(first["id"], seq)] for seq in (1, 2, 3, 4)
    ]
    question, answer = first["messages"][0], first["messages"][1]
    assert question["text"] == "where is my parcel? it has not arrived" and question["client_id"] == "a1"
    assert [p["intent"] for p in question["predictions"]] == ["track_order"]
    prediction = question["predictions"][0]
    assert 0 < prediction["confidence"] <= 1 and prediction["adapter_version"] == chatted["adapter_version"]
    assert prediction["top_k"][0]["intent"] == "track_order" and prediction["latency_ms"] > 0
    assert answer["reply_to_id"] == question["id"]
    assert answer["intent"]["name"] == "track_order" and answer["action"] == "answer"
    assert [f["rating"] for f in answer["feedback"]] == ["down"]
    assert first["messages"][3]["feedback"] == []
    assert [m["text"] for m in second["messages"]][0] == "I forgot my password"


def test_export_carries_the_review_state_and_every_csat_rating(
    db_settings: Settings, chatted: dict[str, Any]
) -> None:
    first, second = (json.loads(line) for line in export(db_settings.database_url).stdout.splitlines())
    assert first["csat"] == 4
    assert [(r["rating"], r["comment"]) for r in first["csat_history"]] == [
        (2, ""),
        (4, "quick answer in the end"),
    ]
    assert first["reviewed_by"] is None and first["reviewed_at"] is None
    assert second["csat"] is None and second["csat_history"] == []
    assert second["reviewed_by"] == "ann" and second["reviewed_at"] is not None


def test_export_to_a_file_matches_standard_output(
    db_settings: Settings, chatted: dict[str, Any], tmp_path: Path
) -> None:
    to_stdout = export(db_settings.database_url).stdout
    out = tmp_path / "conversations.jsonl"
    to_file = export(db_settings.database_url, "--out", str(out))
    assert to_file.stdout == ""
    assert out.read_text(encoding="utf-8") == to_stdout
    assert len(to_stdout.splitlines()) == 2


def test_export_of_an_empty_database_writes_nothing(client: TestClient, settings: Settings) -> None:
    result = export(settings.database_url)
    assert result.stdout == ""
    assert "exported 0 conversations" in result.stderr

"""BOT_STORE_REDACTED: the model reads the live turn as typed; everything kept is redacted."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.app import create_app
from bot.config import Settings
from bot.db.export import export_conversations
from bot.db.models import CsatRating, Message, Prediction
from bot.learning.round_data import staff_labelled_turns
from bot.services import Models
from bot.staff import labels
from tests.privacy.support import rows_containing
from tests.staff.support import cheap_hashing, factory_of, staff

TYPED = "my card 4111 1111 1111 1111 was charged twice, write to kim.lee@example.com"
STORED = "my card [CARD] was charged twice, write to [EMAIL]"


@pytest.fixture
def redacting(base_settings: Settings, database_url: str, models: Models) -> Iterator[TestClient]:
    settings = base_settings.model_copy(update={"database_url": database_url, "store_redacted": True})
    with cheap_hashing(), TestClient(create_app(settings, models)) as client:
        yield client


def hello(ws: Any, token: str | None = None, last_seq: int | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token, "last_seq": last_seq})
    welcome = ws.receive_json()
    assert welcome["type"] == "welcome"
    return welcome  # type: ignore[no-any-return]


def next_of(ws: Any, kind: str) -> dict[str, Any]:
    while True:
        frame = ws.receive_json()
        if frame["type"] == kind:
            return frame  # type: ignore[no-any-return]


def test_a_redacted_store_keeps_the_live_conversation_working(redacting: TestClient) -> None:
    factory = factory_of(redacting)
    classifier = redacting.app.state.services.slot.current  # type: ignore[attr-defined]
    typed, redacted = classifier.classify([TYPED, STORED])
    assert abs(typed.confidence - redacted.confidence) > 0.01  # so the check below can tell them apart

    with redacting.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        ws.send_json({"type": "message", "client_id": "c1", "text": TYPED})
        assert next_of(ws, "ack")["seq"] == 1
        reply = next_of(ws, "message")
        ws.send_json({"type": "message", "client_id": "c2", "text": "thanks, and where is my parcel?"})
        second = next_of(ws, "message")
        ws.send_json({"type": "csat", "rating": 2, "comment": "call me on +44 20 7946 0321"})
        assert next_of(ws, "csat_ok")["rating"] == 2

    assert reply["role"] == "bot" and reply["intent"]["name"] == typed.intent
    assert second["role"] == "bot" and second["intent"]["name"] == "track_order"
    with factory() as session:
        stored = session.scalars(select(Message).where(Message.seq == 1)).one()
        prediction = session.scalars(select(Prediction).where(Prediction.message_id == stored.id)).one()
    assert stored.text == STORED
    # The model read what the customer typed, not the stored text.
    assert prediction.confidence == pytest.approx(typed.confidence, abs=1e-3)
    assert rows_containing(factory, "kim.lee") == [] and rows_containing(factory, "4111 1111") == []
    assert rows_containing(factory, "7946 0321") == []
    with factory() as session:
        assert session.scalars(select(CsatRating.comment)).all() == ["call me on [PHONE]"]

    with redacting.websocket_connect("/ws/chat") as ws:
        hello(ws, welcome["token"], 0)
        replayed = next_of(ws, "message")
    assert replayed["seq"] == 1 and replayed["text"] == STORED

    admin = staff(redacting, "root", "admin")
    transcript = redacting.get(f"/api/conversations/{welcome['conversation_id']}", headers=admin.headers())
    assert TYPED not in transcript.text and STORED in transcript.text
    out = io.StringIO()
    export_conversations(factory, out)
    assert TYPED not in out.getvalue() and STORED in out.getvalue()
    labels.add_staff_label(factory, stored.id, "payment_failed", list(classifier.labels), "root")
    assert [turn.text for turn in staff_labelled_turns(factory)] == [STORED]

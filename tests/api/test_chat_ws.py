"""Every rule of the /ws/chat protocol, against the shipped adapter and a real database."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.websockets import WebSocketDisconnect

from bot.db import chat_store
from bot.db.models import Feedback, Label, Message, Prediction


def hello(ws: Any, token: str | None = None, last_seq: int | None = None) -> dict[str, Any]:
    ws.send_json({"type": "hello", "token": token, "last_seq": last_seq})
    welcome = ws.receive_json()
    assert welcome["type"] == "welcome"
    return welcome


def say(ws: Any, text: str, client_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    ws.send_json({"type": "message", "client_id": client_id, "text": text})
    ack = ws.receive_json()
    reply = ws.receive_json()
    return ack, reply


def count(client: TestClient, model: type, *where: Any) -> int:
    factory = client.app.state.services.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        return int(session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_hello_without_token_starts_a_conversation(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
    assert welcome["seq"] == 0
    assert len(welcome["token"]) >= 32
    assert welcome["conversation_id"]


def test_message_is_acked_then_answered_and_stored(db_client: TestClient) -> None:
    with db_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        ack, reply = say(ws, "where is my parcel? it has not arrived yet", "c1")
    assert ack == {"type": "ack", "client_id": "c1", "seq": 1}
    assert reply["type"] == "message" and reply["role"] == "bot" and reply["seq"] == 2
    assert reply["intent"]["name"] == "track_order"
    assert 0.0 < reply["intent"]["confidence"] <= 1.0
    assert isinstance(reply["suggestions"], list) and isinstance(reply["sources"], list)
    assert reply["text"]
    assert count(db_client, Message) == 2
    predictions = count(db_client, Prediction, Prediction.intent == "track_order")
    assert predictions == 1


def test_prediction_records_adapter_version_and_latency(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "I forgot my password", "c1")
    factory = client.app.state.services.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        prediction = session.scalars(select(Prediction)).one()
    assert prediction.adapter_version == client.app.state.services.slot.current.version  # type: ignore[attr-defined]
    assert prediction.latency_ms > 0
    assert prediction.top_k[0]["intent"] == prediction.intent == "reset_password"


def test_resume_replays_messages_after_last_seq(db_client: TestClient) -> None:
    with db_client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        say(ws, "hello", "a")
        say(ws, "how much is shipping", "b")
    with db_client.websocket_connect("/ws/chat") as ws:
        resumed = hello(ws, welcome["token"], 2)
        replayed = [ws.receive_json() for _ in range(2)]
    assert resumed["conversation_id"] == welcome["conversation_id"]
    assert resumed["token"] == welcome["token"]
    assert resumed["seq"] == 4
    assert [(m["seq"], m["role"]) for m in replayed] == [(3, "user"), (4, "bot")]
    assert replayed[0]["text"] == "how much is shipping"
    assert replayed[0]["client_id"] == "b"


def test_resume_with_no_last_seq_replays_everything(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        say(ws, "hi", "a")
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws, welcome["token"], None)
        frames = [ws.receive_json() for _ in range(2)]
    assert [frame["seq"] for frame in frames] == [1, 2]


def test_unknown_token_starts_a_new_conversation(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws, "not-a-real-token", 5)
    assert welcome["token"] != "not-a-real-token"
    assert welcome["seq"] == 0


def test_repeated_client_id_is_stored_and_answered_once(db_client: TestClient) -> None:
    with db_client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        first_ack, first_reply = say(ws, "cancel my order please", "same-id")
    # The retry comes after a reconnect, as the widget sends it.
    with db_client.websocket_connect("/ws/chat") as ws:
        hello(ws, welcome["token"], 2)
        retry_ack, retry_reply = say(ws, "cancel my order please", "same-id")
    assert retry_ack == first_ack
    assert retry_reply["seq"] == first_reply["seq"]
    assert count(db_client, Message) == 2
    assert count(db_client, Prediction) == 1


def test_feedback_is_stored_against_the_bot_message(db_client: TestClient) -> None:
    with db_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        _, reply = say(ws, "which payment methods do you take", "c1")
        ws.send_json({"type": "feedback", "seq": reply["seq"], "rating": "down"})
        assert ws.receive_json() == {"type": "feedback_ok", "seq": reply["seq"]}
    assert count(db_client, Feedback, Feedback.rating == "down") == 1


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ("this is not json", "invalid_json"),
        ("[1, 2, 3]", "invalid_frame"),
        (json.dumps({"type": "dance"}), "unknown_type"),
        (json.dumps({"type": "message", "client_id": "x"}), "missing_field"),
        (json.dumps({"type": "message", "client_id": "x", "text": "   "}), "empty_text"),
        (json.dumps({"type": "message", "client_id": "x", "text": "a" * 4001}), "text_too_long"),
        (json.dumps({"type": "message", "text": "hi"}), "missing_field"),
        (json.dumps({"type": "feedback", "seq": 1, "rating": "up"}), "not_a_bot_message"),
        (json.dumps({"type": "feedback", "seq": 99, "rating": "up"}), "not_a_bot_message"),
        (json.dumps({"type": "feedback", "seq": 1, "rating": "meh"}), "invalid_field"),
    ],
)
def test_bad_input_gets_an_error_and_the_socket_stays_usable(
    client: TestClient, frame: str, code: str
) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        # seq 1 is a customer message, so feedback on it must be refused.
        say(ws, "hello there", "first")
        ws.send_text(frame)
        error = ws.receive_json()
        assert error["type"] == "error" and error["code"] == code and error["detail"]
        ack, reply = say(ws, "thanks a lot", "after-error")
    assert ack["seq"] == 3 and reply["seq"] == 4
    assert count(client, Message) == 4


def test_message_before_hello_is_refused(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ws.send_json({"type": "message", "client_id": "x", "text": "hi"})
        assert ws.receive_json()["code"] == "hello_required"
    assert count(client, Message) == 0


def test_text_at_the_limit_is_accepted(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        ack, reply = say(ws, "where is my order " + "x" * 3982, "long")
    assert ack["seq"] == 1 and reply["role"] == "bot"


def test_oversized_frame_closes_with_1009_and_stores_nothing(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        ws.send_text(json.dumps({"type": "message", "client_id": "big", "text": "a" * 70_000}))
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1009
    assert count(client, Message) == 0


def test_low_confidence_asks_back_and_click_becomes_a_label_candidate(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    # Everything below 0.999 counts as unsure, so any real message gets the ask-back.
    services.chat.settings.confidence = 0.999
    services.chat.settings.out_of_scope = 0.0
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        _, ask = say(ws, "i want to send back the shoes i bought", "q")
        assert ask["action"] == "clarify"
        assert 2 <= len(ask["suggestions"]) <= 3
        ws.send_json(
            {
                "type": "message",
                "client_id": "click",
                "text": ask["suggestions"][0],
                "choice": {"seq": ask["seq"], "index": 0},
            }
        )
        assert ws.receive_json()["type"] == "ack"
        answer = ws.receive_json()
    factory = services.session_factory
    with factory() as session:
        label = session.scalars(select(Label)).one()
        asked = session.get(Message, label.message_id)
    assert asked is not None and asked.text == "i want to send back the shoes i bought"
    assert label.source == "suggestion_click"
    assert answer["intent"]["name"] == label.intent
    assert answer["action"] == "answer"


def test_click_on_a_missing_suggestion_is_refused_and_stores_nothing(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        say(ws, "hello", "a")
        ws.send_json({"type": "message", "client_id": "b", "text": "x", "choice": {"seq": 2, "index": 7}})
        assert ws.receive_json()["code"] == "unknown_suggestion"
    assert count(client, Message) == 2


def test_out_of_scope_question_is_answered_from_the_knowledge_base(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.chat.settings.out_of_scope = 1.01  # treat every message as out of scope
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        _, reply = say(ws, "do you give a discount to students?", "q")
    assert reply["action"] == "knowledge"
    assert reply["sources"][0]["id"] == "student-discount"
    assert reply["sources"][0]["title"] in reply["text"]


def test_out_of_scope_without_a_close_article_offers_a_person(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.chat.settings.out_of_scope = 1.01
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        _, reply = say(ws, "what is the capital of peru", "q")
    assert reply["action"] == "offer_human"
    assert reply["sources"] == []
    assert reply["suggestions"] == ["Talk to a person"]


def test_asking_for_a_person_queues_the_conversation(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
        _, reply = say(ws, "i want to talk to a real human please", "q")
    assert reply["action"] == "handoff"
    with client.websocket_connect("/ws/chat") as ws:
        assert hello(ws, welcome["token"], 2)["status"] == "waiting"


class StartSignallingClassifier:
    """The serving classifier, announcing each time a forward pass begins."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.version = inner.version
        self.labels = inner.labels
        self.out_of_scope_threshold = inner.out_of_scope_threshold
        self.started = threading.Event()

    def classify(self, texts: list[str]) -> list[Any]:
        self.started.set()
        return self.inner.classify(texts)


def test_the_model_works_on_a_message_while_it_is_being_stored(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The reply waits for one commit, not two: the forward pass starts before the customer's
    message is committed. The commit below waits for that start; were the two in sequence, it
    would wait in vain and report so."""
    services = client.app.state.services  # type: ignore[attr-defined]
    signalling = StartSignallingClassifier(services.slot.current)
    monkeypatch.setattr(services.slot, "current", signalling)
    overlapped: list[bool] = []
    store = chat_store.append_customer_message  # what the group commit runs

    def store_after_the_model_started(*args: Any) -> Any:
        overlapped.append(signalling.started.wait(timeout=10))
        return store(*args)

    monkeypatch.setattr(chat_store, "append_customer_message", store_after_the_model_started)
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        ack, reply = say(ws, "where is my parcel?", "early-1")
    assert ack["type"] == "ack" and reply["role"] == "bot" and reply["reply_to"] == ack["seq"]
    assert reply["intent"]["name"] == "track_order"
    assert overlapped == [True]


def test_cited_articles_carry_their_public_address_when_the_help_centre_has_one(client: TestClient) -> None:
    services = client.app.state.services  # type: ignore[attr-defined]
    services.chat.settings.out_of_scope = 1.01
    services.chat.settings.kb_base_url = "https://help.example.com/articles"
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        _, reply = say(ws, "do you give a discount to students?", "q")
    assert reply["sources"][0] == {
        "id": "student-discount",
        "title": reply["sources"][0]["title"],
        "url": "https://help.example.com/articles/student-discount",
    }

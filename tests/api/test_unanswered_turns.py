"""Every acknowledged customer message gets exactly one answer, also when the process that
acknowledged it died before answering: the next ``hello`` of that conversation answers it."""

from __future__ import annotations

import threading
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.db import chat_store
from bot.db.models import Message
from tests.api.test_chat_ws import hello
from tests.staff.support import factory_of, next_frame, staff


def acknowledged_then_crashed(client: TestClient, token: str | None = None) -> tuple[str, str, list[str]]:
    """A conversation with two customer messages stored (and acknowledged) but never answered,
    as a ``kill -9`` between the ack and the reply leaves it."""
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws, token)
    conversation_id = welcome["conversation_id"]
    texts = ["where is my order?", "I forgot my password"]
    for number, text in enumerate(texts):
        chat_store.add_customer_message(factory_of(client), conversation_id, f"lost-{number}", text)
    return conversation_id, welcome["token"], texts


def replies_by_customer_seq(client: TestClient, conversation_id: str) -> dict[int, list[int]]:
    with factory_of(client)() as session:
        messages = list(session.scalars(select(Message).where(Message.conversation_id == conversation_id)))
    by_id = {message.id: message for message in messages}
    replies: dict[int, list[int]] = {m.seq: [] for m in messages if m.role == "user"}
    for message in messages:
        if message.role == "bot" and message.reply_to_id is not None:
            replies[by_id[message.reply_to_id].seq].append(message.seq)
    return replies


def test_hello_answers_what_a_dead_process_acknowledged(db_client: TestClient) -> None:
    conversation_id, token, _ = acknowledged_then_crashed(db_client)
    with db_client.websocket_connect("/ws/chat") as ws:
        hello(ws, token, last_seq=2)
        first = next_frame(ws, "message", role="bot")
        second = next_frame(ws, "message", role="bot")
    assert (first["reply_to"], second["reply_to"]) == (1, 2)
    assert first["intent"]["name"] == "track_order" and second["intent"]["name"] == "reset_password"
    assert replies_by_customer_seq(db_client, conversation_id) == {1: [3], 2: [4]}
    # Resuming again answers nothing twice: the replies are only replayed.
    with db_client.websocket_connect("/ws/chat") as ws:
        hello(ws, token, last_seq=0)
        replayed = [next_frame(ws, "message") for _ in range(4)]
    assert [frame["reply_to"] for frame in replayed if frame["role"] == "bot"] == [1, 2]
    assert replies_by_customer_seq(db_client, conversation_id) == {1: [3], 2: [4]}


def test_two_sockets_resuming_at_once_answer_each_message_once(client: TestClient) -> None:
    conversation_id, token, _ = acknowledged_then_crashed(client)
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def resume() -> None:
        try:
            with client.websocket_connect("/ws/chat") as ws:
                start.wait(5)
                hello(ws, token, last_seq=0)
                next_frame(ws, "message", seq=4, seconds=20)
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors
    assert replies_by_customer_seq(client, conversation_id) == {1: [3], 2: [4]}


def test_a_retry_of_an_acknowledged_message_gets_the_answer_once(client: TestClient) -> None:
    conversation_id, token, _ = acknowledged_then_crashed(client)
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws, token, last_seq=2)
        next_frame(ws, "message", role="bot", reply_to=2)
        # The widget retries its outbox with the same client_id: the stored reply comes back.
        ws.send_json({"type": "message", "client_id": "lost-0", "text": "where is my order?"})
        assert next_frame(ws, "ack")["seq"] == 1
        again = next_frame(ws, "message", role="bot")
    assert again["reply_to"] == 1 and again["seq"] == 3
    assert replies_by_customer_seq(client, conversation_id) == {1: [3], 2: [4]}


def test_while_a_person_holds_the_chat_waiting_turns_stay_for_the_agent(
    client: TestClient, cheap_passwords: None
) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/chat") as ws:
        welcome = hello(ws)
    conversation_id = welcome["conversation_id"]
    response = client.post(f"/api/conversations/{conversation_id}/take-over", headers=agent.headers())
    assert response.status_code == 200
    chat_store.add_customer_message(factory_of(client), conversation_id, "lost-0", "are you there?")
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws, welcome["token"], last_seq=0)
        frames: list[dict[str, Any]] = [next_frame(ws, "message"), next_frame(ws, "status")]
    assert frames[0]["role"] == "user" and frames[1]["state"] == "agent"
    assert replies_by_customer_seq(client, conversation_id) == {1: []}
    transcript = client.get(f"/api/conversations/{conversation_id}", headers=agent.headers()).json()
    assert [m["text"] for m in transcript["messages"]] == ["are you there?"]

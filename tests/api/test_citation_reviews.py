"""Staff confirm or correct a bot reply's cited article; the reviews become retriever training pairs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from bot.db.models import CitationReview, Message
from bot.retrieval.citation_reviews import reviewed_pairs
from bot.retrieval.questions import Split
from tests.api.test_console_api import hello, say
from tests.staff.support import cheap_passwords, factory_of, staff  # noqa: F401

pytestmark = pytest.mark.usefixtures("cheap_passwords")

QUESTION = "i want to send back a jacket that does not fit"


def bot_reply_id(client: TestClient, seq: int) -> int:
    with factory_of(client)() as session:
        reply = session.scalar(select(Message).where(Message.seq == seq + 1, Message.role == "bot"))
        assert reply is not None
        return reply.id


def test_a_correction_is_shown_in_the_transcript_and_becomes_a_training_pair(db_client: TestClient) -> None:
    ann, bob = staff(db_client, "ann"), staff(db_client, "bob")
    with db_client.websocket_connect("/ws/chat") as ws:
        conversation = hello(ws)["conversation_id"]
        ack = say(ws, QUESTION, "c1")
    cited = [source["id"] for source in ack["reply"]["sources"]]
    reply_id = bot_reply_id(db_client, ack["seq"])
    path = f"/api/messages/{reply_id}/citation"
    right = "return-policy" if cited[:1] != ["return-policy"] else "how-to-return"

    first = db_client.post(path, json={"article_id": cited[0] if cited else right}, headers=ann.headers())
    second = db_client.post(path, json={"article_id": right}, headers=bob.headers())

    assert first.status_code == second.status_code == 201
    assert first.json()["verdict"] == ("confirmed" if cited else "corrected")
    corrected = second.json()
    assert (corrected["article_id"], corrected["verdict"]) == (right, "corrected")
    assert corrected["created_by"] == "bob"
    lines = db_client.get(f"/api/conversations/{conversation}", headers=ann.headers()).json()["messages"]
    reply = next(line for line in lines if line["id"] == reply_id)
    assert reply["citation"]["article_id"] == right and reply["citation"]["created_by"] == "bob"
    customer = next(line for line in lines if line["role"] == "user")
    assert "citation" not in customer
    # Only the newest review of the reply is a pair, in the customer's own words.
    pairs = reviewed_pairs(factory_of(db_client), {right: "Right", "how-to-return": "How to return"})
    assert [(p.question, p.articles, p.split) for p in pairs] == [(QUESTION, (right,), Split.TUNE)]


def test_a_review_needs_a_bot_reply_and_a_known_article(db_client: TestClient) -> None:
    ann = staff(db_client, "ann")
    with db_client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        ack = say(ws, QUESTION, "c1")
    reply_id = bot_reply_id(db_client, ack["seq"])
    with factory_of(db_client)() as session:
        customer_id = session.scalar(select(Message.id).where(Message.seq == ack["seq"]))

    unknown_article = db_client.post(
        f"/api/messages/{reply_id}/citation", json={"article_id": "made-up"}, headers=ann.headers()
    )
    customer_turn = db_client.post(
        f"/api/messages/{customer_id}/citation", json={"article_id": "return-policy"}, headers=ann.headers()
    )
    missing = db_client.post(
        "/api/messages/999999/citation", json={"article_id": "return-policy"}, headers=ann.headers()
    )

    assert (unknown_article.status_code, unknown_article.json()["code"]) == (422, "unknown_article")
    assert (customer_turn.status_code, customer_turn.json()["code"]) == (422, "not_a_bot_reply")
    assert (missing.status_code, missing.json()["code"]) == (404, "unknown_message")
    with factory_of(db_client)() as session:
        assert session.scalars(select(CitationReview)).all() == [], "nothing written for a refused review"

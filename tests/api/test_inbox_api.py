"""The live desk's API: assignment, notes, canned replies, customer context, labelling several turns."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from bot.chat.customer_context import CustomerContext, browser_name, remember, valid_customer_id
from bot.db import chat_store
from bot.db.models import Conversation, Label
from tests.staff.support import (  # noqa: F401
    cheap_passwords,
    factory_of,
    new_conversation,
    next_frame,
    seed_turn,
    staff,
)

pytestmark = pytest.mark.usefixtures("cheap_passwords")

CHROME_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36"
)


def waiting(client: TestClient, text: str = "i want a human") -> str:
    factory = factory_of(client)
    conversation = new_conversation(factory)
    seed_turn(factory, conversation, text, "human_agent", 0.97, action="handoff", reply="Connecting you…")
    with factory() as session:
        session.execute(update(Conversation).where(Conversation.id == conversation).values(status="waiting"))
        session.commit()
    return conversation


def test_assignment_is_shared_and_only_operators_assign_others(db_client: TestClient) -> None:
    ann, bob = staff(db_client, "ann", display_name="Ann"), staff(db_client, "bob", display_name="Bob")
    olga = staff(db_client, "olga", "operator")
    conversation = waiting(db_client)
    path = f"/api/conversations/{conversation}/assign"

    mine = db_client.post(path, json={"username": "ann"}, headers=ann.headers())
    assert mine.status_code == 200 and mine.json()["agent_username"] == "ann"
    # Bob's console sees it as Ann's, from the database.
    live = db_client.get("/api/live", headers=bob.headers()).json()["conversations"]
    assert [(c["id"], c["status"], c["agent_name"]) for c in live] == [(conversation, "waiting", "Ann")]
    # Bob may neither take it for himself nor give it away; an operator may.
    assert db_client.post(path, json={"username": "bob"}, headers=bob.headers()).status_code == 403
    assert db_client.post(path, json={"username": None}, headers=bob.headers()).status_code == 403
    moved = db_client.post(path, json={"username": "bob"}, headers=olga.headers())
    assert moved.json()["agent_username"] == "bob"
    assert (
        db_client.post(path, json={"username": "nobody"}, headers=olga.headers()).json()["code"]
        == "unknown_user"
    )
    assert (
        db_client.post(path, json={"username": None}, headers=bob.headers()).json()["agent_username"] is None
    )


def test_live_list_shows_the_newest_message_and_the_waiting_time(db_client: TestClient) -> None:
    ann = staff(db_client, "ann")
    conversation = waiting(db_client, "first question")
    [item] = db_client.get("/api/live", headers=ann.headers()).json()["conversations"]
    assert item["preview"] == "first question"
    assert item["latest"]["role"] == "bot" and item["latest"]["text"] == "Connecting you…"
    assert item["waiting_since"] == item["latest"]["created_at"]
    assert item["last_seq"] == 2
    assert conversation == item["id"]

    # Held by a person: the customer waits from their first message since the agent last wrote.
    base = f"/api/conversations/{conversation}"
    db_client.post(f"{base}/take-over", headers=ann.headers())
    db_client.post(f"{base}/messages", json={"text": "Hi, Ann here"}, headers=ann.headers())
    [item] = db_client.get("/api/live", headers=ann.headers()).json()["conversations"]
    assert item["waiting_since"] is None and item["latest"]["text"] == "Hi, Ann here"
    factory = factory_of(db_client)
    first, _ = chat_store.add_customer_message(factory, conversation, "c-1", "are you there?")
    chat_store.add_customer_message(factory, conversation, "c-2", "hello?")
    [item] = db_client.get("/api/live", headers=ann.headers()).json()["conversations"]
    assert item["waiting_since"] == first.created_at.isoformat()
    assert item["latest"]["text"] == "hello?" and item["last_seq"] == 5


def test_notes_are_kept_per_conversation_with_their_author(db_client: TestClient) -> None:
    ann = staff(db_client, "ann", display_name="Ann")
    conversation = waiting(db_client)
    path = f"/api/conversations/{conversation}/notes"
    added = db_client.post(path, json={"text": "  Called back about order 42  "}, headers=ann.headers())
    assert added.status_code == 201 and added.json()["text"] == "Called back about order 42"
    assert db_client.post(path, json={"text": "   "}, headers=ann.headers()).json()["code"] == "empty_text"
    notes = db_client.get(path, headers=ann.headers()).json()["notes"]
    assert [(n["author"], n["text"]) for n in notes] == [("Ann", "Called back about order 42")]
    assert db_client.get("/api/conversations/nope/notes", headers=ann.headers()).status_code == 404


def test_operators_manage_canned_replies_and_shortcuts_are_unique(db_client: TestClient) -> None:
    ann, olga = staff(db_client, "ann"), staff(db_client, "olga", "operator")
    body = {"shortcut": "/Shipping", "text": "Shipping costs 4.95 EUR; free over 50 EUR."}
    assert db_client.post("/api/canned-replies", json=body, headers=ann.headers()).status_code == 403
    created = db_client.post("/api/canned-replies", json=body, headers=olga.headers())
    assert created.status_code == 201 and created.json()["shortcut"] == "shipping"
    again = db_client.post("/api/canned-replies", json=body, headers=olga.headers())
    assert again.status_code == 409 and again.json()["code"] == "shortcut_taken"
    bad = db_client.post(
        "/api/canned-replies", json={"shortcut": "two words", "text": "x"}, headers=olga.headers()
    )
    assert bad.json()["code"] == "invalid_shortcut"
    reply_id = created.json()["id"]
    changed = db_client.put(
        f"/api/canned-replies/{reply_id}",
        json={"shortcut": "shipping", "text": "Free over 50 EUR."},
        headers=olga.headers(),
    )
    assert changed.json()["text"] == "Free over 50 EUR."
    listed = db_client.get("/api/canned-replies", headers=ann.headers()).json()["replies"]
    assert [(r["shortcut"], r["text"]) for r in listed] == [("shipping", "Free over 50 EUR.")]
    assert db_client.delete(f"/api/canned-replies/{reply_id}", headers=olga.headers()).status_code == 204
    assert db_client.get("/api/canned-replies", headers=ann.headers()).json()["replies"] == []


def test_several_turns_are_labelled_at_once_or_not_at_all(db_client: TestClient) -> None:
    ann = staff(db_client, "ann")
    factory = factory_of(db_client)
    conversation = new_conversation(factory)
    first, bot = seed_turn(factory, conversation, "where is it", "track_order", 0.4)
    second, _ = seed_turn(factory, conversation, "parcel?", "track_order", 0.5)
    refused = db_client.post(
        "/api/labels",
        json={"message_ids": [first.id, bot.id], "intent": "track_order"},
        headers=ann.headers(),
    )
    assert refused.json()["code"] == "not_a_customer_turn"
    unknown = db_client.post(
        "/api/labels", json={"message_ids": [first.id], "intent": "no_such_intent"}, headers=ann.headers()
    )
    assert unknown.json()["code"] == "unknown_intent"
    with factory() as session:
        assert session.scalar(select(func.count()).select_from(Label)) == 0
    done = db_client.post(
        "/api/labels",
        json={"message_ids": [first.id, second.id], "intent": "track_order"},
        headers=ann.headers(),
    )
    assert done.status_code == 201 and done.json()["labelled"] == 2
    queue = db_client.get("/api/review-queue", headers=ann.headers()).json()
    assert queue["total"] == 0


def test_the_review_queue_says_when_a_turn_was_judged_out_of_scope(db_client: TestClient) -> None:
    ann = staff(db_client, "ann")
    factory = factory_of(db_client)
    seed_turn(
        factory, new_conversation(factory), "do you sell cars", "other_intent", 0.2, action="offer_human"
    )
    seed_turn(factory, new_conversation(factory), "where is my parcel", "track_order", 0.6)
    items = db_client.get("/api/review-queue", headers=ann.headers()).json()["items"]
    assert {item["text"]: item["out_of_scope"] for item in items} == {
        "do you sell cars": True,
        "where is my parcel": False,
    }


def test_customer_context_and_earlier_conversations_of_the_same_browser(db_client: TestClient) -> None:
    ann = staff(db_client, "ann")
    factory = factory_of(db_client)
    customer = "0f8fad5b-d9cb-469f-a165-70867728950e"
    earlier = new_conversation(factory)
    seed_turn(factory, earlier, "how much is shipping")
    other_browser = new_conversation(factory)
    now = new_conversation(factory)
    context = CustomerContext(
        page_url="https://shop.example/blankets/alpine?email=ann@example.com#reviews",
        referrer="https://www.google.com/search?q=wool+blanket",
        language="de-DE",
        user_agent=CHROME_UA,
    )
    remember(factory, earlier, customer, None)
    remember(factory, other_browser, "ffffffff-0000-4000-8000-000000000000", None)
    remember(factory, now, customer, context)
    remember(factory, now, "aaaaaaaa-0000-4000-8000-000000000000", None)  # the first id stays
    view = db_client.get(f"/api/conversations/{now}/customer", headers=ann.headers()).json()
    assert view["customer_id"] == customer
    assert view["context"] == {
        "page_url": "https://shop.example/blankets/alpine",
        "referrer": "https://www.google.com/search",
        "language": "de-DE",
        "browser": "Chrome 120 on Linux",
    }
    assert [(c["id"], c["preview"]) for c in view["earlier"]] == [(earlier, "how much is shipping")]


def test_context_values_that_are_not_what_they_claim_are_dropped() -> None:
    odd = CustomerContext(page_url="javascript:alert(1)", referrer="not a url", language="<b>")
    assert (odd.page_url, odd.referrer, odd.language) == (None, None, None)
    assert browser_name("") is None
    assert browser_name("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Version/17.0 Mobile Safari/604.1") == (
        "Safari 17 on iOS"
    )
    assert valid_customer_id("short") is None and valid_customer_id("<script>alert(1)</script>") is None
    assert valid_customer_id("0f8fad5b-d9cb-469f-a165-70867728950e") is not None


def test_the_widget_s_customer_id_context_typing_and_end_frames(client: TestClient) -> None:
    ann = staff(client, "ann", display_name="Ann")
    customer_id = "0f8fad5b-d9cb-469f-a165-70867728950e"
    context = {
        "page_url": "https://shop.example/cart?coupon=X1",
        "language": "en-GB",
        "user_agent": CHROME_UA,
    }
    with (
        client.websocket_connect("/ws/staff", headers=ann.headers(csrf=False)) as desk,
        client.websocket_connect("/ws/chat") as customer,
    ):
        next_frame(desk, "hello")
        customer.send_json(
            {"type": "hello", "token": None, "last_seq": None, "customer_id": customer_id, "context": context}
        )
        conversation = next_frame(customer, "welcome")["conversation_id"]
        customer.send_json({"type": "message", "client_id": "c1", "text": "where is my parcel"})
        next_frame(customer, "message", role="bot")
        view = client.get(f"/api/conversations/{conversation}/customer", headers=ann.headers()).json()
        assert view["customer_id"] == customer_id
        assert view["context"]["page_url"] == "https://shop.example/cart"
        assert view["context"]["browser"] == "Chrome 120 on Linux"

        # Typing reaches the staff watching; a second frame within 2 s is refused (rate limits).
        desk.send_json({"type": "watch", "conversation_id": conversation})
        customer.send_json({"type": "typing"})
        typing = next_frame(desk, "typing", conversation_id=conversation)
        assert typing["role"] == "user"
        customer.send_json({"type": "typing"})
        assert next_frame(customer, "error")["code"] == "rate_limited"

        customer.send_json({"type": "end"})
        assert next_frame(customer, "status") == {"type": "status", "state": "closed", "agent_name": None}
        assert next_frame(desk, "status", conversation_id=conversation)["state"] == "closed"
    with factory_of(client)() as session:
        assert session.get(Conversation, conversation).status == "closed"  # type: ignore[union-attr]


def test_an_odd_context_is_dropped_and_the_hello_still_succeeds(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as customer:
        customer.send_json({"type": "hello", "customer_id": "<b>", "context": {"page_url": ["x"] * 3}})
        conversation = next_frame(customer, "welcome")["conversation_id"]
        customer.send_json({"type": "message", "client_id": "c1", "text": "hello"})
        next_frame(customer, "message", role="bot")  # the hello was handled whole before this
    with factory_of(client)() as session:
        row = session.get(Conversation, conversation)
        assert row is not None and row.customer_id is None and row.customer_context is None


def test_an_admin_finds_and_erases_every_conversation_of_a_customer_id(db_client: TestClient) -> None:
    admin = staff(db_client, "ada", "admin")
    factory = factory_of(db_client)
    customer = "0f8fad5b-d9cb-469f-a165-70867728950e"
    mine = [new_conversation(factory), new_conversation(factory)]
    other = new_conversation(factory)
    for conversation in mine:
        seed_turn(factory, conversation, "where is my parcel")
        remember(factory, conversation, customer, CustomerContext(page_url="https://shop.example/"))
    remember(factory, other, "ffffffff-0000-4000-8000-000000000000", None)
    found = db_client.post("/api/privacy/search", json={"customer_id": customer}, headers=admin.headers())
    assert sorted(c["id"] for c in found.json()["conversations"]) == sorted(mine)
    both = db_client.post(
        "/api/privacy/search", json={"customer_id": customer, "email": "a@b.example"}, headers=admin.headers()
    )
    assert both.status_code == 422
    erased = db_client.post("/api/privacy/erasures", json={"conversation_ids": mine}, headers=admin.headers())
    assert erased.json()["conversations"] == 2
    with factory() as session:
        assert (
            session.scalar(
                select(func.count()).select_from(Conversation).where(Conversation.customer_id == customer)
            )
            == 0
        )
        assert session.get(Conversation, other) is not None

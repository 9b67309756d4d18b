"""The content API and serving: roles, history, an edit served at once to an open customer
socket, a second process on the same database following within its poll interval, and an
article edit that embeds that article only."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from bot.app import create_app
from bot.config import Settings
from bot.db.models import IntentProposal
from bot.services import Models, Services
from tests.api.test_chat_ws import hello, say
from tests.staff.support import Login, cheap_hashing, factory_of, staff

TRACK = "where is my parcel? it has not arrived yet"
NEW_REPLY = "Your parcel's live position is on the Track page of your account (edited just now)."
KNITTING = "Our Berlin shop hosts a free knitting workshop every Thursday evening; bring your own wool."
KNITTING_QUESTION = "is there a knitting workshop on thursdays"
POLL_SECONDS = 0.2


@pytest.fixture(autouse=True)
def _cheap_hashing() -> Iterator[None]:
    with cheap_hashing():
        yield


@pytest.fixture
def app_settings(settings: Settings, database_url: str) -> Settings:
    return settings.model_copy(update={"database_url": database_url, "content_poll_seconds": POLL_SECONDS})


@pytest.fixture
def client(app_settings: Settings, models: Models) -> Iterator[TestClient]:
    with TestClient(create_app(app_settings, models)) as test_client:
        yield test_client


def services(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


def put_reply(client: TestClient, login: Login, intent: str, replies: list[str], **extra: Any) -> Any:
    body = {"title": "Track my order", "replies": replies, **extra}
    return client.put(f"/api/content/responses/{intent}", json=body, headers=login.headers())


def ask(client: TestClient, text: str) -> dict[str, Any]:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        return say(ws, text, "c1")[1]


def test_every_staff_role_reads_the_content_and_only_operators_edit_it(client: TestClient) -> None:
    agent, operator = staff(client, "ann", "agent"), staff(client, "olga", "operator")
    listed = client.get("/api/content/responses", headers=agent.headers(csrf=False))
    assert listed.status_code == 200
    assert len(listed.json()["responses"]) == 32
    assert (
        client.get("/api/content/articles/gift-cards", headers=agent.headers()).json()["title"]
        == "Gift Cards"
    )
    refused = put_reply(client, agent, "track_order", [NEW_REPLY])
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.delete("/api/content/responses/thanks", headers=agent.headers()).status_code == 403
    no_csrf = client.put(
        "/api/content/responses/track_order",
        json={"title": "T", "replies": ["x"]},
        headers=operator.headers(False),
    )
    assert no_csrf.status_code == 403
    assert client.get("/api/content/responses").status_code == 401
    assert put_reply(client, operator, "track_order", [NEW_REPLY]).status_code == 200


def test_an_edited_reply_reaches_an_already_open_customer_socket_without_restart(client: TestClient) -> None:
    operator = staff(client, "olga", "operator")
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        before = say(ws, TRACK, "c1")[1]
        assert before["intent"]["name"] == "track_order" and before["text"] != NEW_REPLY
        edited = put_reply(client, operator, "track_order", [NEW_REPLY], version=1)
        assert edited.status_code == 200 and edited.json()["version"] == 2
        after = say(ws, TRACK, "c2")[1]
    assert after["intent"]["name"] == "track_order"
    assert after["text"].startswith(NEW_REPLY)


def test_history_says_who_changed_what_and_when(client: TestClient) -> None:
    olga, pete = staff(client, "olga", "operator"), staff(client, "pete", "admin")
    put_reply(client, olga, "track_order", ["First edit."], version=1)
    put_reply(client, pete, "track_order", ["Second edit."], version=2)
    history = client.get("/api/content/responses/track_order/history", headers=olga.headers()).json()
    changes = [(c["version"], c["action"], c["actor"], c["data"]["replies"]) for c in history["changes"]]
    assert changes[:2] == [(3, "update", "pete", ["Second edit."]), (2, "update", "olga", ["First edit."])]
    assert changes[2][1:3] == ("create", "seed")
    assert all(
        c["created_at"].endswith("+00:00") or c["created_at"].endswith("Z") for c in history["changes"]
    )


def test_an_edit_based_on_an_old_version_is_refused_with_409(client: TestClient) -> None:
    olga, pete = staff(client, "olga", "operator"), staff(client, "pete", "operator")
    assert put_reply(client, olga, "track_order", ["Olga's text."], version=1).status_code == 200
    late = put_reply(client, pete, "track_order", ["Pete's text."], version=1)
    assert late.status_code == 409 and "changed by olga" in late.json()["detail"]
    assert ask(client, TRACK)["text"].startswith("Olga's text.")


def test_invalid_edits_are_refused_with_their_reason(client: TestClient) -> None:
    operator = staff(client, "olga", "operator")
    assert put_reply(client, operator, "track_order", []).status_code == 422
    unknown = put_reply(client, operator, "track_order", ["x"], articles=["no-such-article"])
    assert unknown.status_code == 422 and "does not exist" in unknown.json()["detail"]
    listed = put_reply(client, operator, "track_order", ["x"], articles=["tracking-a-parcel"])
    assert listed.status_code == 200
    in_use = client.delete("/api/content/articles/tracking-a-parcel", headers=operator.headers())
    assert in_use.status_code == 409 and in_use.json()["code"] == "article_in_use"
    assert client.get("/api/content/articles/no-such", headers=operator.headers()).status_code == 404


def test_an_approved_intent_without_a_reply_is_listed_until_it_gets_one(client: TestClient) -> None:
    operator = staff(client, "olga", "operator")
    with factory_of(client)() as session:
        session.add(IntentProposal(name="gift_wrapping", proposed_by="ann", status="approved"))
        session.commit()
    listed = client.get("/api/content/responses", headers=operator.headers()).json()
    assert listed["without_response"] == ["gift_wrapping"]
    body = {"title": "Gift wrapping", "replies": ["We wrap gifts."], "version": 0}
    created = client.put("/api/content/responses/gift_wrapping", json=body, headers=operator.headers())
    assert created.status_code == 200 and created.json()["version"] == 1
    assert client.get("/api/content/responses", headers=operator.headers()).json()["without_response"] == []


def propose(client: TestClient, name: str) -> None:
    with factory_of(client)() as session:
        session.add(IntentProposal(name=name, proposed_by="ann", status="pending"))
        session.commit()


def test_approving_a_proposal_with_its_reply_stores_and_serves_that_reply(client: TestClient) -> None:
    operator = staff(client, "olga", "operator")
    propose(client, "gift_wrapping")
    body = {"response": {"title": "Gift wrapping", "replies": ["We gift-wrap any order for 3.50 EUR."]}}
    approved = client.post(
        "/api/intent-proposals/gift_wrapping/approve", json=body, headers=operator.headers()
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "approved" and approved.json()["has_response"] is True
    stored = client.get("/api/content/responses/gift_wrapping", headers=operator.headers()).json()
    assert stored["replies"] == ["We gift-wrap any order for 3.50 EUR."] and stored["updated_by"] == "olga"
    assert services(client).chat.responses.reply("gift_wrapping") == "We gift-wrap any order for 3.50 EUR."


def test_a_proposal_with_an_invalid_reply_is_not_approved(client: TestClient) -> None:
    operator = staff(client, "olga", "operator")
    propose(client, "gift_wrapping")
    body = {"response": {"title": "Gift wrapping", "replies": ["   "]}}
    refused = client.post(
        "/api/intent-proposals/gift_wrapping/approve", json=body, headers=operator.headers()
    )
    assert refused.status_code == 422 and "reply 1 needs" in refused.json()["detail"]
    proposals = client.get("/api/intent-proposals", headers=operator.headers()).json()["proposals"]
    assert [p["status"] for p in proposals] == ["pending"]


def test_a_proposal_approved_without_a_reply_answers_with_the_fallback_until_it_has_one(
    client: TestClient,
) -> None:
    operator = staff(client, "olga", "operator")
    propose(client, "gift_wrapping")
    approved = client.post("/api/intent-proposals/gift_wrapping/approve", headers=operator.headers())
    assert approved.status_code == 200 and approved.json()["has_response"] is False
    listed = client.get("/api/content/responses", headers=operator.headers()).json()
    assert listed["without_response"] == ["gift_wrapping"]


def wait_for(condition: Callable[[], bool], timeout: float) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, "the change did not arrive in time"
        time.sleep(0.02)
    return time.monotonic() - started


def test_a_second_process_on_the_same_database_serves_the_edit_within_its_poll_interval(
    app_settings: Settings, models: Models
) -> None:
    with ExitStack() as stack:
        first = stack.enter_context(TestClient(create_app(app_settings, models)))
        second = stack.enter_context(TestClient(create_app(app_settings, models)))
        assert not ask(second, TRACK)["text"].startswith(NEW_REPLY)
        operator = staff(first, "olga", "operator")
        assert put_reply(first, operator, "track_order", [NEW_REPLY]).status_code == 200

        def second_serves_it() -> bool:
            response = services(second).chat.responses.get("track_order")
            return response is not None and response.replies == [NEW_REPLY]

        # One poll interval plus a database read; the bound is loose for a busy 2-core machine.
        waited = wait_for(second_serves_it, timeout=5.0)
        assert waited < 5.0
        assert ask(second, TRACK)["text"].startswith(NEW_REPLY)

        def second_finds_it() -> bool:
            best = services(second).index.search(KNITTING_QUESTION, top_k=1)[0]
            return best.article_id == "sustainable-packaging"

        assert not second_finds_it()
        body = {"title": "Sustainable packaging", "body": KNITTING}
        edited = first.put(
            "/api/content/articles/sustainable-packaging", json=body, headers=operator.headers()
        )
        assert edited.status_code == 200
        # The second process embeds the edited article on its own; allow for that on a busy machine.
        wait_for(second_finds_it, timeout=30.0)


def test_an_article_edit_embeds_that_article_only_and_is_found_by_its_new_text(
    client: TestClient, models: Models, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator = staff(client, "olga", "operator")
    question = KNITTING_QUESTION
    index = services(client).index
    assert index.search(question, top_k=1)[0].article_id != "sustainable-packaging"
    embedded: list[list[str]] = []
    encode = index.encoder.encode

    def counting(texts: list[str], *args: Any, **kwargs: Any) -> Any:
        embedded.append(texts)
        return encode(texts, *args, **kwargs)

    monkeypatch.setattr(index.encoder, "encode", counting)
    body = {"title": "Sustainable packaging", "body": KNITTING, "version": 1}
    saved = client.put("/api/content/articles/sustainable-packaging", json=body, headers=operator.headers())
    assert saved.status_code == 200 and saved.json()["version"] == 2
    assert embedded == [[f"Sustainable packaging. {KNITTING}"]], (
        "only the edited article's chunk was embedded"
    )
    before = {
        (c.article_id, c.text): v for c, v in zip(models.index.chunks, models.index.vectors, strict=True)
    }
    for chunk, vector in zip(index.chunks, index.vectors, strict=True):
        if chunk.article_id != "sustainable-packaging":
            np.testing.assert_array_equal(vector, before[(chunk.article_id, chunk.text)])
    assert index.search(question, top_k=1)[0].article_id == "sustainable-packaging"

"""Intent discovery on a small synthetic set with the shipped model, and the cluster -> intent action."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.app import create_app
from bot.cli import main
from bot.config import PROJECT_ROOT, Settings
from bot.db import chat_store
from bot.db.migrate import upgrade
from bot.db.models import IntentProposal, Label, Message
from bot.db.session import create_db_engine, create_session_factory
from bot.insights.clusters import distinctive_words, suggested_name
from bot.services import Models
from tests.staff.support import cheap_passwords, factory_of, new_conversation, seed_turn, staff  # noqa: F401

pytestmark = pytest.mark.usefixtures("cheap_passwords")

OPENING_HOURS = [
    "are you open on sunday",
    "what are your opening hours",
    "when does the shop open on saturday",
    "opening hours on public holidays",
]
GIFT_WRAP = ["can you gift wrap my order", "do you offer gift wrapping", "gift wrap this present please"]
PAY_CRYPTO = [
    "can I pay using cryptocurrency",
    "do you accept crypto currency payments",
    "can I pay with bitcoin",
]
WEATHER = ["what is the weather like in paris"]


@pytest.fixture
def app_client(settings: Settings, models: Models, database_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings.model_copy(update={"database_url": database_url}), models)) as client:
        yield client


def seed(factory: sessionmaker[Session]) -> dict[str, int]:
    """Unserved turns: out of scope, asked back about, thumbs-down; plus served ones that must not show."""
    ids: dict[str, int] = {}
    for text in OPENING_HOURS + GIFT_WRAP + WEATHER:
        asked, _ = seed_turn(factory, new_conversation(factory), text, "greeting", 0.1, action="offer_human")
        ids[text] = asked.id
    for text in PAY_CRYPTO[:2]:
        conversation = new_conversation(factory)
        asked, _ = seed_turn(factory, conversation, text, "payment_methods", 0.4, action="clarify")
        ids[text] = asked.id
    conversation = new_conversation(factory)
    asked, reply = seed_turn(factory, conversation, PAY_CRYPTO[2], "payment_failed", 0.9)
    chat_store.add_feedback(factory, conversation, reply.seq, "down")
    ids[PAY_CRYPTO[2]] = asked.id
    happy = new_conversation(factory)
    _, reply = seed_turn(factory, happy, "where is my parcel", "track_order", 0.95)
    chat_store.add_feedback(factory, happy, reply.seq, "up")
    # Two of the opening-hours turns are from the week before last: the cluster grew.
    with factory() as session:
        old = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
        session.execute(
            update(Message).where(Message.id.in_([ids[t] for t in OPENING_HOURS[:1]])).values(created_at=old)
        )
        session.commit()
    return ids


def by_members(report: dict[str, Any]) -> dict[frozenset[str], dict[str, Any]]:
    return {frozenset(turn["text"] for turn in cluster["turns"]): cluster for cluster in report["clusters"]}


def test_unserved_turns_cluster_by_topic_and_one_becomes_a_proposed_intent(app_client: TestClient) -> None:
    factory = factory_of(app_client)
    ids = seed(factory)
    agent = staff(app_client, "ann", "agent")
    response = app_client.get("/api/insights/clusters", headers=agent.headers())
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["turns"] == len(OPENING_HOURS + GIFT_WRAP + WEATHER + PAY_CRYPTO)
    clusters = by_members(report)
    hours = clusters[frozenset(OPENING_HOURS)]
    wrap = clusters[frozenset(GIFT_WRAP)]
    pay = clusters[frozenset(PAY_CRYPTO)]
    assert len(report["clusters"]) == 3 and report["clustered"] == 10  # the weather turn joins nobody
    assert (hours["size"], hours["recent"], hours["earlier"], hours["growth"]) == (4, 3, 1, 2.0)
    assert "opening" in hours["words"] and "hours" in hours["words"]
    assert "gift" in wrap["words"] and "wrap" in wrap["name"]
    # Paying another way is what payment_methods means: shown as that intent, not a new one.
    assert pay["looks_like"] == "payment_methods" and pay["nearest_intent"] == "payment_methods"
    assert hours["looks_like"] is None and wrap["looks_like"] is None
    assert sum(turn["representative"] for turn in hours["turns"]) == 4
    assert {turn["reason"] for turn in pay["turns"]} == {"low_confidence", "thumbs_down"}

    ticked = [ids[text] for text in OPENING_HOURS[:3]]
    body = {"intent": "opening_hours", "propose": True, "message_ids": ticked}
    refused = app_client.post("/api/insights/clusters/labels", json=body, headers=agent.headers())
    assert refused.status_code == 403
    operator = staff(app_client, "olga", "operator")
    created = app_client.post("/api/insights/clusters/labels", json=body, headers=operator.headers())
    assert created.status_code == 201, created.text
    assert created.json()["labelled"] == 3
    assert created.json()["proposal"]["status"] == "pending"
    with factory() as session:
        labelled = session.execute(
            select(Label.message_id, Label.intent, Label.source, Label.created_by)
        ).all()
        assert sorted(labelled) == sorted((i, "opening_hours", "staff", "olga") for i in ticked)
        proposed_by = select(IntentProposal.proposed_by).where(IntentProposal.name == "opening_hours")
        assert session.scalar(proposed_by) == "olga"
    # Labelled turns leave the list; the unticked one stays, for a later look.
    left = by_members(app_client.get("/api/insights/clusters", headers=agent.headers()).json())
    assert not any(set(OPENING_HOURS[:3]) & members for members in left)

    # The cluster that is really payment_methods is labelled as that intent, no proposal filed.
    known = {"intent": "payment_methods", "propose": False, "message_ids": [ids[t] for t in PAY_CRYPTO]}
    labelled_known = app_client.post("/api/insights/clusters/labels", json=known, headers=operator.headers())
    assert labelled_known.status_code == 201 and labelled_known.json()["proposal"] is None


def test_a_bad_cluster_action_labels_nothing(app_client: TestClient) -> None:
    factory = factory_of(app_client)
    ids = seed(factory)
    operator = staff(app_client, "olga", "operator")
    one = [ids[GIFT_WRAP[0]]]
    cases = [
        ({"intent": "track_order", "propose": True, "message_ids": one}, 422, "intent_exists"),
        ({"intent": "Gift Wrap!", "propose": True, "message_ids": one}, 422, "invalid_intent_name"),
        ({"intent": "gift_wrap", "propose": True, "message_ids": [*one, 999999]}, 404, "unknown_message"),
        ({"intent": "no_such_intent", "propose": False, "message_ids": one}, 422, "unknown_intent"),
    ]
    for body, code, reason in cases:
        response = app_client.post("/api/insights/clusters/labels", json=body, headers=operator.headers())
        assert (response.status_code, response.json().get("code")) == (code, reason), body
    with factory() as session:
        assert session.scalars(select(Label)).all() == []
        assert session.scalars(select(IntentProposal)).all() == []


def test_cluster_names_come_from_words_distinctive_to_the_cluster() -> None:
    words = distinctive_words(
        [["where is my order", "order not here"], ["cancel my order", "cancel it now", "please cancel"]]
    )
    # Stop words never name a cluster; a word every cluster uses ranks below one only this cluster uses.
    assert words == [["order"], ["cancel", "order"]]
    assert suggested_name(["gift", "wrap"]) == "gift_wrap"
    assert suggested_name(["2024", "x"]) == "new_intent"
    assert suggested_name([]) == "new_intent"


def test_the_cli_prints_the_clusters_as_json_and_as_text(sqlite_url: str, tmp_path: Path) -> None:
    upgrade(sqlite_url)
    engine = create_db_engine(sqlite_url)
    seed(create_session_factory(engine))
    engine.dispose()
    env = {
        "BOT_DATABASE_URL": sqlite_url,
        "BOT_DATA_DIR": str(PROJECT_ROOT / "data"),
        "BOT_ADAPTER_DIR": str(PROJECT_ROOT / "adapters"),
        "BOT_STATE_DIR": str(tmp_path),
        "BOT_DEVICE": "cpu",
    }
    as_json = CliRunner().invoke(main, ["insights", "clusters", "--json"], env=env)
    assert as_json.exit_code == 0, as_json.output
    report = json.loads(as_json.stdout)
    assert {frozenset(OPENING_HOURS), frozenset(GIFT_WRAP), frozenset(PAY_CRYPTO)} == set(by_members(report))
    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).date().isoformat()
    as_text = CliRunner().invoke(main, ["insights", "clusters", "--since", since], env=env)
    assert as_text.exit_code == 0, as_text.output
    # The 10-day-old turn is left out; the payment turns are shown as the intent they are.
    assert "10 unserved turns, 9 in 3 clusters" in as_text.stdout
    assert "looks like payment_methods: label them" in as_text.stdout
    assert '"are you open on sunday"' not in as_text.stdout

"""Analytics figures on a hand-built conversation set: exact values, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from bot.config import Settings
from bot.db import chat_store
from bot.db.models import Conversation, Message
from bot.db.session import create_db_engine, create_session_factory
from bot.errors import InvalidInput
from bot.insights.analytics import Interval, Scope, summary, timeseries
from tests.insights.support import MONDAY, NOW, RANGE, V1, V2, Chat, seed
from tests.staff.support import cheap_passwords, new_conversation, prediction, staff  # noqa: F401


def test_summary_figures_are_exact(factory: sessionmaker[Session]) -> None:
    seed(factory)
    result = summary(factory, RANGE, now=NOW)
    figures = result.figures.model_dump()
    assert figures == {
        "conversations": 5,
        "handed_off": 2,
        "handoff_rate": 0.4,
        "decided": 4,
        "contained": 2,
        "containment_rate": 0.5,
        "turns": 8,
        "fallbacks": 2,
        "fallback_rate": 0.25,
        "ask_backs": 1,
        "ask_back_rate": 0.125,
        "suggestion_clicks": 1,
        "suggestion_click_rate": 1.0,
        "thumbs_up": 1,
        "thumbs_down": 2,
        "csat_count": 3,
        "csat_average": 3.667,
        "csat_distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 1},
        "latency_median_ms": 200,
        "latency_p95_ms": 500,
        "confidence_mean": 0.6771,
        "confidence_histogram": [0, 0, 1, 1, 0, 1, 0, 0, 1, 3],
    }
    assert [(row.intent, row.turns) for row in result.intents] == [
        ("out_of_scope", 2),
        ("track_order", 2),
        ("cancel_order", 1),
        ("human_agent", 1),
        ("refund_status", 1),
    ]
    assert [(row.adapter, row.conversations, row.turns) for row in result.adapters] == [
        ("", 0, 1),
        (V1, 2, 3),
        (V2, 3, 4),
    ]


def test_one_adapter_gets_its_conversations_and_the_turns_it_served(factory: sessionmaker[Session]) -> None:
    seed(factory)
    figures = summary(factory, Scope(RANGE.first, RANGE.last, V1), now=NOW).figures
    assert (figures.conversations, figures.handed_off, figures.decided, figures.contained) == (2, 1, 2, 1)
    assert (figures.turns, figures.fallbacks, figures.ask_backs, figures.suggestion_clicks) == (3, 0, 1, 1)
    assert (figures.thumbs_up, figures.thumbs_down) == (1, 1)
    assert (figures.csat_count, figures.csat_average) == (2, 3.5)
    assert (figures.latency_median_ms, figures.latency_p95_ms) == (200, 300)
    assert figures.confidence_mean == 0.8
    assert figures.confidence_histogram == [0, 0, 0, 0, 0, 1, 0, 0, 0, 2]


def test_timeseries_buckets_by_day_and_by_iso_week(factory: sessionmaker[Session]) -> None:
    seed(factory)
    days = timeseries(factory, RANGE, Interval.day, now=NOW).buckets
    assert [b.start for b in days] == [f"2026-03-{day:02d}" for day in range(2, 11)]
    assert [(b.conversations, b.turns) for b in days] == [(2, 4), (2, 2)] + [(0, 0)] * 6 + [(1, 2)]
    assert (days[0].latency_median_ms, days[0].latency_p95_ms) == (100, 300)
    assert (days[1].csat_count, days[1].csat_average, days[1].thumbs_down) == (1, 4.0, 1)
    assert days[2].latency_median_ms is None and days[2].containment_rate is None
    weeks = timeseries(factory, RANGE, Interval.week, now=NOW).buckets
    assert [b.start for b in weeks] == ["2026-03-02", "2026-03-09"]
    assert [(b.conversations, b.turns, b.handed_off) for b in weeks] == [(4, 6, 1), (1, 2, 1)]
    assert [(b.latency_median_ms, b.latency_p95_ms) for b in weeks] == [(200, 500), (150, 250)]
    # A week that starts before the range is keyed by its Monday.
    sunday = timeseries(factory, Scope(dt.date(2026, 3, 8), dt.date(2026, 3, 10)), Interval.week, now=NOW)
    assert [(b.start, b.conversations) for b in sunday.buckets] == [("2026-03-02", 0), ("2026-03-09", 1)]


def test_containment_edges(factory: sessionmaker[Session]) -> None:
    """Idle exactly the documented time decides; a closed chat that a person handled is not contained."""
    with factory() as s:
        idle = Chat(s, MONDAY)
        idle.clock = NOW - dt.timedelta(minutes=30)
        idle.turn("answer", "track_order", 0.9, V1, 10)
        s.execute(
            update(Conversation)
            .where(Conversation.id == idle.id)
            .values(updated_at=NOW - dt.timedelta(minutes=30))
        )
        handled = Chat(s, MONDAY, status="closed")
        handled.turn("answer", "track_order", 0.9, V1, 10)
        handled.agent()
        s.commit()
    figures = summary(factory, RANGE, now=NOW).figures
    assert (figures.conversations, figures.decided, figures.contained, figures.handed_off) == (2, 2, 1, 1)
    later = summary(factory, RANGE, now=NOW - dt.timedelta(seconds=1)).figures
    assert (later.decided, later.contained) == (1, 0)


def test_the_chat_write_fills_the_reply_facts(factory: sessionmaker[Session]) -> None:
    conversation = new_conversation(factory)
    asked, _ = chat_store.add_customer_message(factory, conversation, "c1", "where is my parcel")
    shadow = replace(prediction("track_order", 0.5), adapter_version="intents/shadow", shadow=True)
    served = [shadow, prediction("track_order", 0.91)]
    payload = {"action": "answer", "intent": {"name": "track_order", "confidence": 0.91}}
    reply = chat_store.add_bot_reply(factory, asked, "on its way", payload, served)
    with factory() as session:
        stored = session.get(Message, reply.id)
        assert stored is not None
        facts = (stored.reply_action, stored.reply_intent, stored.reply_confidence)
        assert facts == ("answer", "track_order", 0.91)
        assert stored.reply_adapter == served[1].adapter_version
        assert stored.reply_ms is not None and 0 <= stored.reply_ms < 5000
        # The conversation now counts for the serving adapter; a later reply does not change that.
        assert session.get(Conversation, conversation).first_adapter == served[1].adapter_version
    later, _ = chat_store.add_customer_message(factory, conversation, "c2", "thanks")
    other = replace(prediction("goodbye", 0.9), adapter_version="intents/v9")
    chat_store.add_bot_reply(factory, later, "bye", {"action": "answer"}, [other])
    with factory() as session:
        assert session.get(Conversation, conversation).first_adapter == served[1].adapter_version


def test_a_backwards_or_overlong_range_is_refused() -> None:
    with pytest.raises(InvalidInput, match="before"):
        Scope(dt.date(2026, 3, 2), dt.date(2026, 3, 1))
    with pytest.raises(InvalidInput, match="366"):
        Scope(dt.date(2025, 1, 1), dt.date(2026, 3, 1))


@pytest.mark.usefixtures("cheap_passwords")
def test_the_api_answers_json_and_csv_and_refuses_a_backwards_range(
    client: TestClient, settings: Settings
) -> None:
    engine = create_db_engine(settings.database_url)
    seed(create_session_factory(engine))
    engine.dispose()
    agent = staff(client, "ann", "agent")
    query = "from=2026-03-02&to=2026-03-10"
    summary_json = client.get(f"/api/analytics/summary?{query}&adapter={V1}", headers=agent.headers())
    assert summary_json.status_code == 200, summary_json.text
    body = summary_json.json()
    assert (body["from"], body["to"], body["adapter"], body["idle_minutes"]) == (
        "2026-03-02",
        "2026-03-10",
        V1,
        30,
    )
    assert body["figures"]["conversations"] == 2
    as_csv = client.get(f"/api/analytics/summary?{query}&format=csv", headers=agent.headers())
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert 'filename="analytics-summary-2026-03-02-2026-03-10.csv"' in as_csv.headers["content-disposition"]
    header, row = as_csv.text.splitlines()
    assert header.startswith("from,to,conversations,handed_off,")
    assert "csat_5" in header and "confidence_0.9" in header
    assert dict(zip(header.split(","), row.split(","), strict=True))["turns"] == "8"
    weeks = client.get(f"/api/analytics/timeseries?{query}&interval=week&format=csv", headers=agent.headers())
    assert [line.split(",")[0] for line in weeks.text.splitlines()] == ["start", "2026-03-02", "2026-03-09"]
    backwards = client.get("/api/analytics/summary?from=2026-03-10&to=2026-03-02", headers=agent.headers())
    assert (backwards.status_code, backwards.json()["code"]) == (422, "invalid_range")
    assert client.get("/api/analytics/timeseries?interval=month", headers=agent.headers()).status_code == 422

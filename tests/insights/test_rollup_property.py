"""Random histories, then random late writes: every view read from the daily sums equals the
same view scanned from the tables (SQLite; the hand-built cases run on PostgreSQL as well)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.migrate import upgrade
from bot.db.models import Base, Conversation, CsatRating, Feedback, Label
from bot.db.session import create_db_engine, create_session_factory
from tests.insights.support import MONDAY, NOW, V1, V2, Chat, every_view, scanned

ACTIONS = ["answer", "clarify", "knowledge", "offer_human", "handoff"]


@dataclass(frozen=True)
class Turn:
    action: str
    intent: str | None
    confidence: float | None
    adapter: str | None
    ms: int
    thumbs: tuple[str, ...]
    clicked: bool


@dataclass(frozen=True)
class History:
    day: int
    hour: int
    status: str
    turns: tuple[Turn, ...]
    agent: bool
    ratings: tuple[int, ...]


turns = st.builds(
    Turn,
    action=st.sampled_from(ACTIONS),
    intent=st.sampled_from([None, "track_order", "refund_status"]),
    confidence=st.one_of(st.none(), st.floats(0, 1)),
    adapter=st.sampled_from([None, V1, V2]),
    ms=st.integers(1, 3000),
    thumbs=st.lists(st.sampled_from(["up", "down"]), max_size=2).map(tuple),
    clicked=st.booleans(),
)
histories = st.builds(
    History,
    day=st.integers(0, 8),
    hour=st.integers(0, 23),
    status=st.sampled_from(["bot", "closed", "waiting", "agent"]),
    turns=st.lists(turns, max_size=3).map(tuple),
    agent=st.booleans(),
    ratings=st.lists(st.integers(1, 5), max_size=2).map(tuple),
)
# Late writes, each aimed at the n-th conversation or reply (modulo how many there are).
late_writes = st.lists(
    st.tuples(st.sampled_from(["thumb", "rating", "status", "unclick"]), st.integers(0, 50)), max_size=4
)


def write(session: Session, history: History) -> tuple[str, list[int]]:
    chat = Chat(session, MONDAY + dt.timedelta(days=history.day, hours=history.hour), status=history.status)
    replies = []
    for turn in history.turns:
        asked, reply = chat.turn(turn.action, turn.intent, turn.confidence, turn.adapter, turn.ms)
        replies.append(reply)
        for rating in turn.thumbs:
            session.add(Feedback(message_id=reply, rating=rating))
        if turn.clicked and turn.action == "clarify":
            session.add(
                Label(message_id=asked, intent=turn.intent or "track_order", source="suggestion_click")
            )
    if history.agent and history.turns:
        chat.agent()
    chat.rate(*history.ratings)
    return chat.id, replies


@pytest.fixture(scope="module")
def shared_factory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('rollup')) / 'bot.sqlite3'}"
    upgrade(url)
    engine = create_db_engine(url)
    yield create_session_factory(engine)
    engine.dispose()


def empty(factory: sessionmaker[Session]) -> None:
    with factory() as session:
        for table in reversed(Base.metadata.sorted_tables):
            session.execute(delete(table))
        session.commit()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(stories=st.lists(histories, max_size=6), late=late_writes)
def test_random_histories_read_the_same_summed_or_scanned(
    shared_factory: sessionmaker[Session],
    monkeypatch: pytest.MonkeyPatch,
    stories: list[History],
    late: list[tuple[str, int]],
) -> None:
    factory = shared_factory
    empty(factory)
    with factory() as session:
        written = [write(session, story) for story in stories]
        session.commit()
    assert every_view(factory) == scanned(factory, monkeypatch)
    conversations = [conversation for conversation, _ in written]
    replies = [reply for _, ids in written for reply in ids]
    with factory() as session:
        for kind, index in late:
            if kind == "thumb" and replies:
                session.add(Feedback(message_id=replies[index % len(replies)], rating="down"))
            elif kind == "rating" and conversations:
                chat_id = conversations[index % len(conversations)]
                session.add(CsatRating(conversation_id=chat_id, rating=1 + index % 5))
            elif kind == "status" and conversations:
                chat_id = conversations[index % len(conversations)]
                session.execute(
                    update(Conversation).where(Conversation.id == chat_id).values(status="closed")
                )
            elif kind == "unclick":
                session.execute(delete(Label).where(Label.source == "suggestion_click"))
            session.flush()
        session.commit()
    assert every_view(factory) == scanned(factory, monkeypatch)
    later = NOW + dt.timedelta(days=1)  # conversations still going at NOW are decided by then
    assert every_view(factory, later) == scanned(factory, monkeypatch, later)

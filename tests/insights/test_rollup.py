"""Daily roll-ups: closed days are read from their sums, and any later write to such a day is
counted at once (by the triggers), so the figures always equal a scan of the tables."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from bot.config import sqlalchemy_url
from bot.db.models import AnalyticsDay, AnalyticsTurnDay, Conversation, CsatRating, Feedback, Label, Message
from bot.db.review import set_reviewed
from bot.db.session import create_db_engine, create_session_factory
from bot.insights import rollup
from bot.insights.analytics import summary
from bot.privacy.erasure import erase_conversations
from tests.insights.support import MONDAY, NOW, RANGE, every_view, scanned, seed

MARCH = [dt.date(2026, 3, day) for day in range(1, 11)]


@pytest.fixture
def live(monkeypatch: pytest.MonkeyPatch) -> Callable[[sessionmaker[Session]], list[dict[str, Any]]]:
    """Every view computed from the tables alone, no roll-up built or read."""

    return lambda factory: scanned(factory, monkeypatch)


def summed(factory: sessionmaker[Session], now: dt.datetime = NOW) -> list[dt.date]:
    with factory() as session:
        return rollup.summed_days(session, MARCH[0], MARCH[-1], now)


def test_closed_days_are_summed_and_give_the_figures_of_a_scan(
    factory: sessionmaker[Session], live: Callable[[sessionmaker[Session]], list[dict[str, Any]]]
) -> None:
    seed(factory)
    scanned = live(factory)
    assert summed(factory) == []
    assert every_view(factory) == scanned
    # March 3 has a conversation written in ten minutes ago: its outcome changes with the clock
    # alone, so that day stays live; March 10 has not ended. Every other day is summed.
    expected = [day for day in MARCH[1:9] if day != dt.date(2026, 3, 3)]
    assert summed(factory) == expected
    assert every_view(factory) == scanned  # now read from the sums
    with factory() as session:
        assert session.scalar(select(func.sum(AnalyticsTurnDay.turns))) == 4  # March 2's replies
    # An hour later that conversation is decided, and its day is summed too.
    later = NOW + dt.timedelta(hours=1)
    every_view(factory, later)
    assert dt.date(2026, 3, 3) in summed(factory, later)


def _first_bot_reply_of_march_2(session: Session) -> Message:
    query = select(Message).where(Message.role == "bot", Message.created_at < MONDAY + dt.timedelta(days=1))
    return session.scalars(query.order_by(Message.id)).first()  # type: ignore[return-value]


def late_thumb(session: Session) -> None:
    session.add(Feedback(message_id=_first_bot_reply_of_march_2(session).id, rating="down"))


def late_csat(session: Session) -> None:
    session.add(CsatRating(conversation_id=_first_bot_reply_of_march_2(session).conversation_id, rating=1))


def click_taken_back(session: Session) -> None:
    session.execute(delete(Label).where(Label.source == "suggestion_click"))


def taken_over(session: Session) -> None:
    conversation = _first_bot_reply_of_march_2(session).conversation_id
    session.execute(update(Conversation).where(Conversation.id == conversation).values(status="agent"))


def resumed_with_a_person(session: Session) -> None:
    """The customer came back on the range's last day and a person answered."""
    conversation = session.get_one(Conversation, _first_bot_reply_of_march_2(session).conversation_id)
    conversation.last_seq += 1
    conversation.updated_at = NOW - dt.timedelta(hours=2)
    session.add(
        Message(
            conversation_id=conversation.id,
            seq=conversation.last_seq,
            role="agent",
            text="a person writes",
            created_at=NOW - dt.timedelta(hours=2),
        )
    )


def reply_facts_corrected(session: Session) -> None:
    reply = _first_bot_reply_of_march_2(session)
    session.execute(update(Message).where(Message.id == reply.id).values(reply_action="knowledge"))


LATE_WRITES = [
    late_thumb,
    late_csat,
    click_taken_back,
    taken_over,
    resumed_with_a_person,
    reply_facts_corrected,
]


@pytest.mark.parametrize("write", LATE_WRITES, ids=lambda write: write.__name__)
def test_a_late_write_to_a_summed_day_counts_at_once(
    factory: sessionmaker[Session],
    live: Callable[[sessionmaker[Session]], list[dict[str, Any]]],
    write: Callable[[Session], None],
) -> None:
    seed(factory)
    before = every_view(factory)
    assert MONDAY.date() in summed(factory)
    with factory() as session:
        write(session)
        session.commit()
    after = every_view(factory)
    assert after != before
    assert after == live(factory)


def test_an_update_that_moves_no_figure_keeps_the_sums(factory: sessionmaker[Session]) -> None:
    """Staff reviewing an old transcript is not a change to that day's figures."""
    seed(factory)
    every_view(factory)
    with factory() as session:
        conversation = _first_bot_reply_of_march_2(session).conversation_id
        changes = session.get_one(AnalyticsDay, MONDAY.date()).changes
    assert set_reviewed(factory, conversation, True, "ann")
    with factory() as session:
        assert session.get_one(AnalyticsDay, MONDAY.date()).changes == changes
    assert MONDAY.date() in summed(factory)


def test_an_erasure_takes_its_conversations_out_of_the_sums(
    factory: sessionmaker[Session],
    live: Callable[[sessionmaker[Session]], list[dict[str, Any]]],
    tmp_path: Path,
) -> None:
    seed(factory)
    before = every_view(factory)
    with factory() as session:
        march_2 = session.scalars(
            select(Conversation.id).where(Conversation.created_at < MONDAY + dt.timedelta(days=1))
        ).all()
    erase_conversations(factory, march_2, actor="test", state_dir=tmp_path)
    after = every_view(factory)
    assert after[0]["figures"]["conversations"] == before[0]["figures"]["conversations"] - 2
    assert after == live(factory)


def test_a_truncate_forgets_every_sum(
    postgres_factory: sessionmaker[Session], live: Callable[[sessionmaker[Session]], list[dict[str, Any]]]
) -> None:
    factory = postgres_factory
    seed(factory)
    every_view(factory)
    with factory() as session:
        session.execute(text("TRUNCATE feedback"))
        session.commit()
    assert summed(factory) == []
    assert every_view(factory) == live(factory)


def test_a_range_before_the_first_conversation_builds_nothing(factory: sessionmaker[Session]) -> None:
    seed(factory)
    assert rollup.refresh(factory, dt.date(1990, 1, 1), dt.date(1990, 12, 31), NOW) == 0
    every_view(factory)
    with factory() as session:
        days = session.scalars(select(AnalyticsDay.day)).all()
    assert days and min(days) == dt.date(2026, 3, 1)  # the seed's first conversation


def test_todays_writes_leave_the_day_counts_alone(factory: sessionmaker[Session]) -> None:
    """The chat's own writes (today) cost the triggers a comparison, not a write."""
    now = dt.datetime.now(dt.UTC)
    with factory() as session:
        conversation = Conversation(id="today", token_hash="t" * 64, created_at=now, last_seq=1)
        session.add(conversation)
        session.flush()
        session.add(Message(conversation_id="today", seq=1, role="user", text="hi", created_at=now))
        session.commit()
        assert session.scalars(select(AnalyticsDay)).all() == []
        conversation.created_at = now - dt.timedelta(days=2)  # as if it had started two days ago
        session.commit()
        counted = session.scalars(select(AnalyticsDay)).all()
        assert [(row.day, row.changes >= 1) for row in counted] == [
            ((now - dt.timedelta(days=2)).date(), True)
        ]


def test_a_server_in_another_time_zone_sums_the_same_utc_days(
    postgres_factory: sessionmaker[Session],
    postgres_url: str,
    live: Callable[[sessionmaker[Session]], list[dict[str, Any]]],
) -> None:
    """Days are UTC days whatever the session's time zone (UTC+14 here moves every midnight)."""
    seed(postgres_factory)
    expected = live(postgres_factory)
    far_east = make_url(sqlalchemy_url(postgres_url)).update_query_dict(
        {"options": "-c timezone=Pacific/Kiritimati"}
    )
    engine = create_db_engine(far_east.render_as_string(hide_password=False))
    factory = create_session_factory(engine)
    try:
        with factory() as session:
            assert session.scalar(text("SHOW timezone")) == "Pacific/Kiritimati"
        assert every_view(factory) == expected  # built under UTC+14
        assert summed(factory) == [day for day in MARCH[1:9] if day != dt.date(2026, 3, 3)]
        with factory() as session:
            late_thumb(session)  # the trigger runs under UTC+14 too
            session.commit()
        assert every_view(factory) == live(postgres_factory)
    finally:
        engine.dispose()


def test_a_build_waits_for_a_write_in_flight_and_then_counts_it(
    postgres_factory: sessionmaker[Session],
) -> None:
    """Several processes: a thumb written but not yet committed when a request starts building
    its day holds the day's row; the build waits for it and then includes it."""
    factory = postgres_factory
    seed(factory)
    writer = factory()
    late_thumb(writer)
    writer.flush()  # the trigger has run: the day's row is locked until the writer commits
    result: list[int] = []
    builder = threading.Thread(
        target=lambda: result.append(summary(factory, RANGE, now=NOW).figures.thumbs_down)
    )
    builder.start()
    builder.join(timeout=1.5)
    assert builder.is_alive(), "the build should wait for the uncommitted thumb"
    writer.commit()
    writer.close()
    builder.join(timeout=30)
    assert result == [3]  # the seed's two thumbs down and the late one
    assert MONDAY.date() in summed(factory)


def test_builders_in_parallel_build_each_day_once(postgres_factory: sessionmaker[Session]) -> None:
    factory = postgres_factory
    seed(factory)
    built: list[int] = []
    threads = [
        threading.Thread(target=lambda: built.append(rollup.refresh(factory, MARCH[0], MARCH[-1], NOW)))
        for _ in range(3)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    # March 1-9 but March 3 (a conversation still going), each by exactly one of the three.
    assert sum(built) == len(summed(factory)) == 8
    with factory() as session:
        assert session.scalar(select(func.sum(AnalyticsTurnDay.turns))) == 5  # March 1's and 2's replies


def test_the_background_refresh_builds_the_closed_days(factory: sessionmaker[Session]) -> None:
    seed(factory)

    async def run_until_built() -> None:
        with anyio.fail_after(30):
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(rollup.refresh_every, factory, 0.05)
                while not summed(factory, dt.datetime.now(dt.UTC)):
                    await anyio.sleep(0.05)
                tasks.cancel_scope.cancel()

    anyio.run(run_until_built)
    # Every March day is closed for the real clock, and nothing is still going by it.
    assert summed(factory, dt.datetime.now(dt.UTC)) == MARCH

"""A hand-built conversation set with chosen times, written as the chat would have stored it."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, insert, update
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, CsatRating, Feedback, Label, Message
from bot.insights import rollup
from bot.insights.analytics import Interval, Scope, summary, timeseries

V1, V2 = "intents/v1", "intents/v2"
MONDAY = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)
NOW = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
RANGE = Scope(dt.date(2026, 3, 2), dt.date(2026, 3, 10))


@dataclass
class Chat:
    """Writes one conversation's rows with chosen times, as the chat would have stored them."""

    session: Session
    started: dt.datetime
    status: str = "bot"

    def __post_init__(self) -> None:
        self.id = str(uuid.uuid4())
        self.seq = 0
        self.clock = self.started
        self.session.add(
            Conversation(id=self.id, token_hash=uuid.uuid4().hex, status=self.status, created_at=self.started)
        )
        self.session.flush()

    def _message(self, role: str, text: str = "x", **fields: Any) -> int:
        self.seq += 1
        row = {"conversation_id": self.id, "seq": self.seq, "role": role, "text": text, "payload": {}}
        row.update(created_at=self.clock, **fields)
        message_id = self.session.execute(insert(Message).returning(Message.id), [row]).scalar_one()
        adapter = fields.get("reply_adapter")
        first = func.coalesce(Conversation.first_adapter, adapter) if adapter else Conversation.first_adapter
        self.session.execute(
            update(Conversation)
            .where(Conversation.id == self.id)
            .values(last_seq=self.seq, updated_at=self.clock, first_adapter=first)
        )
        return int(message_id)

    def turn(
        self,
        action: str,
        intent: str | None,
        confidence: float | None,
        adapter: str | None,
        ms: int,
    ) -> tuple[int, int]:
        asked = self._message("user", "customer words")
        self.clock += dt.timedelta(milliseconds=ms)
        payload = {"action": action, "intent": {"name": intent, "confidence": confidence} if intent else None}
        reply = self._message(
            "bot",
            "bot words",
            reply_to_id=asked,
            payload=payload,
            reply_action=action,
            reply_intent=intent,
            reply_confidence=confidence,
            reply_adapter=adapter,
            reply_ms=ms,
        )
        self.clock += dt.timedelta(minutes=1)
        return asked, reply

    def agent(self) -> None:
        self._message("agent", "a person writes")

    def rate(self, *ratings: int) -> None:
        for rating in ratings:
            self.session.add(CsatRating(conversation_id=self.id, rating=rating, comment=""))
            self.session.flush()


def thumbs(session: Session, message_id: int, *ratings: str) -> None:
    for rating in ratings:
        session.add(Feedback(message_id=message_id, rating=rating))
        session.flush()


def seed(factory: sessionmaker[Session]) -> None:
    with factory() as s:
        a = Chat(s, MONDAY.replace(hour=9))  # contained: idle for days
        _, a1 = a.turn("answer", "track_order", 0.95, V1, 100)
        thumbs(s, a1, "up")
        a.rate(4, 5)  # a second rating replaces the first
        b = Chat(s, MONDAY.replace(hour=10), status="waiting")  # asked back, clicked, then asked for a person
        asked, b1 = b.turn("clarify", "cancel_order", 0.55, V1, 200)
        s.add(Label(message_id=asked, intent="cancel_order", source="suggestion_click"))
        thumbs(s, b1, "down")
        b.turn("answer", "cancel_order", None, None, 50)  # the clicked suggestion's answer
        b.turn("handoff", "human_agent", 0.9, V1, 300)
        b.rate(2)  # once, although it touched three intents
        c = Chat(s, MONDAY.replace(day=3, hour=8), status="closed")  # fell back twice, closed: contained
        _, c_reply = c.turn("offer_human", None, 0.2, V2, 400)
        thumbs(s, c_reply, "up", "down")
        c.turn("knowledge", None, 0.3, V2, 500)
        c.rate(4)
        d = Chat(s, MONDAY.replace(day=3, hour=9))  # still going: undecided
        d.clock = NOW - dt.timedelta(minutes=10)
        d.turn("answer", "track_order", 0.85, V2, 150)
        e = Chat(s, MONDAY.replace(day=10, hour=9))  # staff stepped in, then handed back: handed off
        e.turn("answer", "refund_status", 0.99, V2, 250)
        e.agent()
        Chat(s, MONDAY.replace(hour=11))  # the widget opened, nobody wrote: not a conversation
        early = Chat(s, MONDAY - dt.timedelta(days=1))  # before the range
        early.turn("answer", "track_order", 0.5, V1, 9000)
        early.rate(1)
        s.commit()


def every_view(factory: sessionmaker[Session], now: dt.datetime = NOW) -> list[dict[str, Any]]:
    """Every request the console makes, for all versions and for one."""
    views: list[dict[str, Any]] = []
    for scope in (RANGE, Scope(RANGE.first, RANGE.last, V1)):
        views.append(summary(factory, scope, now=now).model_dump())
        for interval in Interval:
            views.append(timeseries(factory, scope, interval, now=now).model_dump())
    return views


def scanned(
    factory: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch, now: dt.datetime = NOW
) -> list[dict[str, Any]]:
    """``every_view`` from the tables alone: no roll-up built or read."""
    with monkeypatch.context() as patch:
        patch.setattr(rollup, "refresh", lambda *args: 0)
        patch.setattr(rollup, "summed_days", lambda *args: [])
        return every_view(factory, now)

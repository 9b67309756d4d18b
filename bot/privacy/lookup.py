"""Find a customer's conversations by the e-mail address or phone number they typed, or by the
anonymous customer id their browser's widget kept.

An erasure request names a person, not a conversation id. E-mail addresses are matched
case-insensitively as whole addresses (``ann@example.com`` does not find
``joann@example.com``); phone numbers by the number they denote, however they were written
(``+49 30 1234567``, ``030/1234567`` and ``0049 30 123 45 67`` are one number).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import phonenumbers
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import Conversation, Message
from bot.errors import InvalidInput
from bot.privacy.redact import DEFAULT_PHONE_REGIONS, EMAIL, PHONE, find_personal_data

SCAN_BATCH = 1000


@dataclass(frozen=True)
class ConversationMatch:
    id: str
    created_at: dt.datetime
    last_message_at: dt.datetime | None
    messages: int
    status: str


def normalise_email(address: str) -> str:
    address = address.strip().lower()
    found = find_personal_data(address)
    if len(found) != 1 or found[0].kind != EMAIL or (found[0].start, found[0].end) != (0, len(address)):
        raise InvalidInput("invalid_email", f"{address!r} is not an e-mail address")
    return address


def normalise_phone(number: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS) -> str:
    """The number in E.164 form (``+4930123456``); a national number is read in ``regions`` order."""
    for region in regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    raise InvalidInput("invalid_phone", f"{number!r} is not a phone number (add the country code: +44 ...)")


def find_by_email(factory: sessionmaker[Session], address: str) -> list[ConversationMatch]:
    wanted = normalise_email(address)
    # The database narrows by substring; the whole-address check happens here.
    pattern = "%" + re.sub(r"([%_\\])", r"\\\1", wanted) + "%"
    with factory() as session:
        rows = session.execute(
            select(Message.conversation_id, Message.text).where(
                Message.role == "user", func.lower(Message.text).like(pattern, escape="\\")
            )
        )
        ids = {cid for cid, text in rows if wanted in _emails_in(text)}
        return _matches(session, ids)


def find_by_phone(
    factory: sessionmaker[Session], number: str, regions: Sequence[str] = DEFAULT_PHONE_REGIONS
) -> list[ConversationMatch]:
    """Every customer message is read (a number can be written in too many ways for SQL to
    narrow it): about a second per 100,000 messages, most of them ruled out by their digits."""
    wanted = normalise_phone(number, regions)
    national = str(phonenumbers.parse(wanted).national_number)
    ids: set[str] = set()
    with factory() as session:
        for conversation_id, text in _customer_messages(session):
            if national in re.sub(r"\D", "", text) and wanted in _phones_in(text, regions):
                ids.add(conversation_id)
        return _matches(session, ids)


def find_by_customer_id(factory: sessionmaker[Session], customer_id: str) -> list[ConversationMatch]:
    """Every conversation the widget in one browser started (its anonymous id, see
    ``bot.chat.customer_context``): what a request naming that id covers."""
    wanted = customer_id.strip()
    if not wanted:
        raise InvalidInput("invalid_customer_id", "the customer id is empty")
    with factory() as session:
        ids = set(session.scalars(select(Conversation.id).where(Conversation.customer_id == wanted)))
        return _matches(session, ids)


def find_by_ids(factory: sessionmaker[Session], conversation_ids: Sequence[str]) -> list[ConversationMatch]:
    """The conversations among ``conversation_ids`` that exist."""
    with factory() as session:
        return _matches(session, set(conversation_ids))


def _customer_messages(session: Session) -> Iterator[tuple[str, str]]:
    last_id = 0
    while True:
        rows = session.execute(
            select(Message.id, Message.conversation_id, Message.text)
            .where(Message.role == "user", Message.id > last_id)
            .order_by(Message.id)
            .limit(SCAN_BATCH)
        ).all()
        if not rows:
            return
        for _, conversation_id, text in rows:
            yield conversation_id, text
        last_id = rows[-1][0]


def _emails_in(text: str) -> set[str]:
    return {text[f.start : f.end].lower() for f in find_personal_data(text) if f.kind == EMAIL}


def _phones_in(text: str, regions: Sequence[str]) -> set[str]:
    """Every number the phone numbers in ``text`` can denote: a national number such as
    ``020 7946 0321`` is read in each region where it is valid, so no reading is missed."""
    found = set()
    for finding in find_personal_data(text, regions):
        if finding.kind == PHONE:
            found |= _readings(text[finding.start : finding.end], regions)
    return found


def _readings(number: str, regions: Sequence[str]) -> set[str]:
    readings = set()
    for region in regions:
        try:
            parsed = phonenumbers.parse(number, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(parsed):
            readings.add(phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164))
    return readings


def _matches(session: Session, ids: set[str]) -> list[ConversationMatch]:
    if not ids:
        return []
    rows = session.execute(
        select(
            Conversation.id,
            Conversation.created_at,
            Conversation.status,
            func.max(Message.created_at),
            func.count(Message.id),
        )
        .outerjoin(Message, Message.conversation_id == Conversation.id)
        .where(Conversation.id.in_(sorted(ids)))
        .group_by(Conversation.id, Conversation.created_at, Conversation.status)
        .order_by(Conversation.created_at)
    )
    return [
        ConversationMatch(id=cid, created_at=created, last_message_at=last, messages=count, status=status)
        for cid, created, status, last, count in rows
    ]


def match_record(match: ConversationMatch) -> dict[str, Any]:
    return {
        "id": match.id,
        "status": match.status,
        "created_at": match.created_at.isoformat(),
        "last_message_at": match.last_message_at.isoformat() if match.last_message_at else None,
        "messages": match.messages,
    }

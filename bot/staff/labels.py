"""Staff labels on customer turns, and proposals for new intents.

A label is a new row in ``labels`` (source ``staff``); earlier rows stay as history and the
newest wins. A label names an intent the served model knows, ``out_of_scope``, or a proposed
intent. Proposing a new name files it in ``intent_proposals`` (pending) for an operator to
approve or reject; a rejected name cannot be used again.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.db.models import IntentProposal, Label, Message, utcnow
from bot.errors import Conflict, InvalidInput, NotFound

OUT_OF_SCOPE = "out_of_scope"
STAFF = "staff"
INTENT_NAME = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
PROPOSAL_STATES = ("pending", "approved", "rejected")


def add_staff_label(
    factory: sessionmaker[Session],
    message_id: int,
    intent: str,
    known_intents: Collection[str],
    username: str,
    propose: bool = False,
) -> Label:
    """Append a staff label; with ``propose`` the intent is a new name, filed as a proposal."""
    try:
        return _add_staff_label(factory, message_id, intent.strip(), known_intents, username, propose)
    except IntegrityError:
        # Someone proposed the same name a moment ago; now it exists and this label can use it.
        return _add_staff_label(factory, message_id, intent.strip(), known_intents, username, propose)


def _add_staff_label(
    factory: sessionmaker[Session],
    message_id: int,
    intent: str,
    known_intents: Collection[str],
    username: str,
    propose: bool,
) -> Label:
    with factory() as session:
        message = session.get(Message, message_id)
        if message is None:
            raise NotFound("unknown_message", f"no message with id {message_id}")
        if message.role != "user":
            raise InvalidInput("not_a_customer_turn", "only customer messages carry intent labels")
        if propose:
            _file_proposal(session, intent, known_intents, username)
        else:
            _check_usable(session, intent, known_intents)
        label = Label(message_id=message_id, intent=intent, source=STAFF, created_by=username)
        session.add(label)
        session.commit()
        return label


def add_staff_labels(
    factory: sessionmaker[Session],
    message_ids: Collection[int],
    intent: str,
    known_intents: Collection[str],
    username: str,
    propose: bool = False,
) -> int:
    """One intent for several customer turns, in one transaction: all are labelled or none.
    With ``propose`` the intent is a new name, filed as a proposal in the same transaction."""
    intent = intent.strip()
    with factory() as session:
        if propose:
            _file_proposal(session, intent, known_intents, username)
        else:
            _check_usable(session, intent, known_intents)
        found = session.execute(select(Message.id, Message.role).where(Message.id.in_(message_ids))).all()
        missing = set(message_ids) - {row.id for row in found}
        if missing:
            raise NotFound("unknown_message", f"no message with id {min(missing)}")
        if any(row.role != "user" for row in found):
            raise InvalidInput("not_a_customer_turn", "only customer messages carry intent labels")
        for message_id in message_ids:
            session.add(Label(message_id=message_id, intent=intent, source=STAFF, created_by=username))
        session.commit()
        return len(message_ids)


def _check_usable(session: Session, intent: str, known_intents: Collection[str]) -> None:
    if intent == OUT_OF_SCOPE or intent in known_intents:
        return
    proposal = _proposal(session, intent)
    if proposal is None:
        raise InvalidInput("unknown_intent", f"{intent!r} is not an intent; propose it as a new one instead")
    if proposal.status == "rejected":
        raise InvalidInput("proposal_rejected", f"the proposed intent {intent!r} was rejected")


def _file_proposal(session: Session, name: str, known_intents: Collection[str], username: str) -> None:
    if not INTENT_NAME.match(name):
        raise InvalidInput(
            "invalid_intent_name",
            "an intent name has 2-63 characters: lower-case letters, digits and '_', starting with a letter",
        )
    if name == OUT_OF_SCOPE or name in known_intents:
        raise InvalidInput("intent_exists", f"{name!r} is already an intent; pick it instead of proposing it")
    existing = _proposal(session, name)
    if existing is None:
        session.add(IntentProposal(name=name, proposed_by=username, status="pending"))
    elif existing.status == "rejected":
        raise InvalidInput("proposal_rejected", f"the proposed intent {name!r} was rejected")


def _proposal(session: Session, name: str) -> IntentProposal | None:
    return session.scalar(select(IntentProposal).where(IntentProposal.name == name))


def labels_of(factory: sessionmaker[Session], message_id: int) -> list[Label]:
    with factory() as session:
        if session.get(Message, message_id) is None:
            raise NotFound("unknown_message", f"no message with id {message_id}")
        return list(session.scalars(select(Label).where(Label.message_id == message_id).order_by(Label.id)))


def list_proposals(factory: sessionmaker[Session], status: str | None = None) -> list[IntentProposal]:
    with factory() as session:
        query = select(IntentProposal).order_by(IntentProposal.created_at, IntentProposal.id)
        if status is not None:
            query = query.where(IntentProposal.status == status)
        return list(session.scalars(query))


def decide_proposal(
    factory: sessionmaker[Session], name: str, approve: bool, username: str
) -> IntentProposal:
    with factory() as session:
        proposal = _proposal(session, name)
        if proposal is None:
            raise NotFound("unknown_proposal", f"no proposed intent named {name!r}")
        if proposal.status != "pending":
            raise Conflict("already_decided", f"{name!r} was already {proposal.status}")
        proposal.status = "approved" if approve else "rejected"
        proposal.decided_by = username
        proposal.decided_at = utcnow()
        session.commit()
        return proposal


def proposal_view(proposal: IntentProposal) -> dict[str, Any]:
    return {
        "name": proposal.name,
        "status": proposal.status,
        "proposed_by": proposal.proposed_by,
        "created_at": proposal.created_at.isoformat(),
        "decided_by": proposal.decided_by,
        "decided_at": proposal.decided_at.isoformat() if proposal.decided_at else None,
    }

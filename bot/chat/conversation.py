"""A customer conversation: resume, store each message once, answer it, record feedback.

Database work runs in worker threads so the event loop keeps serving other customers.
Order of events for a message: the customer's text is committed, then acknowledged, then
answered; the answer and the predictions are committed together before they are sent. The
model starts on the text while it is being committed (``start_thinking``), so the reply waits
for one commit, its own, rather than two; nothing is stored or sent before the text is. A
retry with the same client_id finds the stored message and its stored answer (or answers it
now, if the first attempt died between the two commits).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.engine import ChatEngine, ShadowSlot, Turn
from bot.chat.form_turn import FormRunner, FormTurn
from bot.chat.forms import FormState
from bot.chat.group_commit import GroupCommitter, Write
from bot.chat.policy import Reply
from bot.chat.turn_lock import TurnLocks
from bot.db import chat_store, dialogue_state
from bot.db.chat_store import StoredPrediction
from bot.db.models import Conversation, Message
from bot.wire.enums import FALLBACK_ACTIONS, ConversationStatus, LabelSource, ReplyAction

SUGGESTION_CLICK = LabelSource.SUGGESTION_CLICK
R = TypeVar("R")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resumed:
    conversation: Conversation
    token: str
    backlog: list[Message]
    # For each reply in the backlog: the seq of the customer message it answers.
    reply_to_seq: dict[int, int]


@dataclass(frozen=True)
class Answered:
    """``reply`` is None when the bot stays silent (a person holds the conversation);
    ``created`` is False when the reply was stored before (a retry, or a second socket);
    ``new_status``: the status the new reply moved the conversation to (None: unchanged)."""

    reply: Message | None
    created: bool
    new_status: ConversationStatus | None = None


def status_after_reply(action: str, current: str) -> ConversationStatus | None:
    """The one status rule of a bot reply: a hand-off queues the conversation for a person, any
    other reply in a closed conversation reopens it with the bot; otherwise it stays as it is.
    (While a person holds it the bot does not reply at all: ``chat_store.append_answer``.)"""
    if action == ReplyAction.HANDOFF:
        return ConversationStatus.WAITING
    if current == ConversationStatus.CLOSED:
        return ConversationStatus.BOT
    return None


@dataclass(frozen=True)
class Choice:
    """A suggestion button the customer clicked, resolved to its intent."""

    intent: str
    asked_about_message_id: int | None


class ConversationService:
    """``writes`` (a group committer) lets the two writes of a turn share their transaction with
    other conversations' writes; without it each runs in its own, in a worker thread.

    ``redact_text`` (``BOT_STORE_REDACTED``) is applied to customer text before it is stored:
    the model still reads the live turn as typed (``start_thinking``), while everything read
    back later (a retry's answer, shadow predictions, resume, console, export, training) is the
    redacted text."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        engine: ChatEngine,
        shadow: ShadowSlot | None = None,
        writes: GroupCommitter | None = None,
        redact_text: Callable[[str], str] | None = None,
        turn_locks: TurnLocks | None = None,
        forms: FormRunner | None = None,
        form_ttl: dt.timedelta = dt.timedelta(minutes=30),
    ) -> None:
        self.factory = factory
        self.engine = engine
        self.shadow = shadow
        self.writes = writes
        self.redact_text = redact_text
        # One turn at a time per conversation (across processes with Redis), so two sockets
        # resuming the same conversation (or a retry racing its original) can never answer one
        # message twice.
        self.turn_locks = turn_locks or TurnLocks()
        # Business actions: the conversation's open form is read and written with each turn.
        self.forms = forms
        self.form_ttl = form_ttl

    async def _write(self, write: Write[R]) -> R:
        if self.writes is None:
            return await to_thread.run_sync(write.alone)
        return await self.writes.run(write)

    async def resume(self, token: str | None, last_seq: int | None) -> Resumed:
        conversation, new_token = await to_thread.run_sync(chat_store.open_conversation, self.factory, token)
        backlog, reply_to_seq = await to_thread.run_sync(
            chat_store.messages_after, self.factory, conversation.id, last_seq or 0
        )
        return Resumed(conversation, new_token, backlog, reply_to_seq)

    def stored_text(self, text: str) -> str:
        """Customer text as it is kept: redacted when the store is."""
        return text if self.redact_text is None else self.redact_text(text)

    async def store_customer_message(
        self, conversation_id: str, client_id: str, text: str
    ) -> tuple[Message, bool]:
        text = self.stored_text(text)
        return await self._write(
            Write(
                grouped=lambda session: chat_store.append_customer_message(
                    session, conversation_id, client_id, text
                ),
                alone=lambda: chat_store.add_customer_message(self.factory, conversation_id, client_id, text),
            )
        )

    async def resolve_choice(self, conversation_id: str, seq: int, index: int) -> Choice:
        """Check a clicked suggestion before the message is stored: bad input stores nothing."""
        intent, asked_about = await to_thread.run_sync(
            chat_store.suggestion_at, self.factory, conversation_id, seq, index
        )
        return Choice(intent, asked_about)

    def start_thinking(self, text: str) -> asyncio.Task[Turn]:
        """Start the model on a typed message before it is stored; pass the task to ``answer``
        and, whatever happens, to ``forget`` afterwards. The model writes nothing, so a message
        that is then refused or found to be a retry costs one wasted forward pass at most."""
        return asyncio.ensure_future(self.engine.respond(text))

    @staticmethod
    def forget(thinking: asyncio.Task[Turn] | None) -> None:
        """Cancel an unused ``start_thinking`` task, or collect its outcome so no error is lost
        to the event loop's "never retrieved" warning."""
        if thinking is None:
            return
        if not thinking.done():
            thinking.cancel()
        elif not thinking.cancelled():
            with contextlib.suppress(Exception):
                thinking.result()

    async def answer(
        self,
        message: Message,
        choice: Choice | None = None,
        thinking: asyncio.Task[Turn] | None = None,
        live_text: str | None = None,
        visitor: str | None = None,
        forms: bool = True,
    ) -> Answered:
        """The stored reply to ``message``, made now if there is none yet (from ``thinking``,
        the model's work on its text begun by ``start_thinking``, when given). ``live_text`` is
        the text as typed (the stored one may be redacted), from which a form takes its slots;
        ``visitor`` the customer's address, which limits failed lookups across conversations;
        ``forms`` False leaves the open form as it is (a person holds the conversation)."""
        async with self.turn_locks.hold(message.conversation_id):
            if thinking is None:
                # A resumed turn or a clicked suggestion: its reply may be stored already, and a
                # choice would be labelled again, so look before working. A typed message's
                # model pass is under way anyway: the write below looks in its own transaction.
                existing, _ = await to_thread.run_sync(chat_store.reply_state, self.factory, message)
                if existing is not None:
                    return Answered(existing, created=False)
            # The open form is read while the model works (inside the turn lock: no other turn
            # of this conversation can change it meanwhile).
            form_state = self._read_form(message.conversation_id, forms)
            try:
                turn = await self._turn(message, choice, thinking)
                form = await self._form_step(message, turn, await form_state, live_text, visitor, forms)
            finally:
                form_state.cancel()
            if form is not None:
                turn = replace(turn, reply=form.reply)
            stored = await self._store_answer(message, turn, form)
            new_status = ConversationStatus(stored.new_status) if stored.new_status is not None else None
            return Answered(stored.reply, stored.created, new_status)

    async def unanswered_turns(self, conversation_id: str) -> list[Message]:
        """Acknowledged customer messages still waiting for the bot (e.g. after a crash)."""
        return await to_thread.run_sync(chat_store.unanswered_turns, self.factory, conversation_id)

    async def _turn(
        self, message: Message, choice: Choice | None, thinking: asyncio.Task[Turn] | None
    ) -> Turn:
        try:
            if choice is not None:
                return await self._answer_choice(message, choice)
            if thinking is not None:
                return await thinking
            return await self.engine.respond(message.text)
        except Exception:  # noqa: BLE001 - logged in full; the customer still gets an answer
            # Input is validated before it gets here, so this is a fault of the server's, not
            # the customer's: the acknowledged message is answered with the offer of a person.
            log.exception("the model failed on message %s; answering with the fallback", message.id)
            return self.engine.fallback()

    def _read_form(self, conversation_id: str, wanted: bool) -> asyncio.Future[FormState | None]:
        if self.forms is None or not wanted:
            done: asyncio.Future[FormState | None] = asyncio.get_running_loop().create_future()
            done.set_result(None)
            return done
        return asyncio.ensure_future(
            to_thread.run_sync(dialogue_state.load_form, self.factory, conversation_id, self.form_ttl)
        )

    async def _form_step(
        self,
        message: Message,
        turn: Turn,
        state: FormState | None,
        live_text: str | None,
        visitor: str | None,
        wanted: bool = True,
    ) -> FormTurn | None:
        """The reply with the business action's form applied (None: no form involved)."""
        if self.forms is None or not wanted:
            return None
        text = message.text if live_text is None else live_text
        try:
            return await self.forms.step(
                message.conversation_id, text, turn.reply, self.engine.responses, state, visitor
            )
        except Exception:  # noqa: BLE001 - logged in full; the customer still gets the model's reply
            log.exception("the form step failed on message %s; answering without it", message.id)
            return FormTurn(turn.reply, None, changed=state is not None)

    async def _store_answer(
        self, message: Message, turn: Turn, form: FormTurn | None = None
    ) -> chat_store.StoredAnswer:
        """The reply and its predictions, or only the predictions (as shadow) while a person
        holds the conversation, in one transaction that also reads the status it decides by
        (``chat_store.append_answer``), changed by ``status_after_reply``; the conversation's
        form goes in the same transaction, only with a reply that was stored now."""
        action = turn.reply.action
        reply = (
            turn.reply.text,
            reply_payload(turn.reply),
            stored_predictions(turn),
            lambda current: status_after_reply(action, current),
        )
        conversation_id = message.conversation_id

        def grouped(session: Session) -> chat_store.StoredAnswer:
            stored = chat_store.append_answer(session, message, *reply)
            if form is not None and form.changed and stored.created:
                dialogue_state.write_form(session, conversation_id, form.state)
            return stored

        def alone() -> chat_store.StoredAnswer:
            with self.factory() as session:
                stored = grouped(session)
                session.commit()
                return stored

        return await self._write(Write(grouped=grouped, alone=alone))

    async def _answer_choice(self, message: Message, choice: Choice) -> Turn:
        if choice.asked_about_message_id is not None:
            await to_thread.run_sync(
                chat_store.add_label,
                self.factory,
                choice.asked_about_message_id,
                choice.intent,
                SUGGESTION_CLICK,
            )
        return await self.engine.respond_to_choice(choice.intent, message.text)

    async def record_shadow(self, message: Message) -> None:
        """Classify a customer turn with the shadow candidate, if any, and store it as shadow.

        Called after the reply went out, so a candidate never slows an answer down.
        """
        candidate = self.shadow.current if self.shadow is not None else None
        if candidate is None:
            return
        started = time.perf_counter()
        prediction = await self.engine.classify(candidate, message.text)
        stored = StoredPrediction(
            intent=prediction.intent,
            confidence=prediction.confidence,
            top_k=[{"intent": name, "confidence": round(p, 4)} for name, p in prediction.top_k],
            out_of_scope=prediction.confidence < candidate.out_of_scope_threshold,
            adapter_version=candidate.version,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            shadow=True,
        )
        await to_thread.run_sync(chat_store.add_predictions, self.factory, message.id, [stored])

    async def feedback(self, conversation_id: str, seq: int, rating: str) -> None:
        await to_thread.run_sync(chat_store.add_feedback, self.factory, conversation_id, seq, rating)


def reply_payload(reply: Reply) -> dict[str, Any]:
    intent = None
    if reply.intent is not None and reply.confidence is not None:
        intent = {"name": reply.intent, "confidence": round(reply.confidence, 4)}
    return {
        "action": reply.action,
        "intent": intent,
        "suggestions": [{"title": s.title, "intent": s.intent} for s in reply.suggestions],
        "sources": [{"id": s.id, "title": s.title, "url": s.url} for s in reply.sources],
        **({"form": reply.form} if reply.form is not None else {}),
    }


def stored_predictions(turn: Turn) -> list[StoredPrediction]:
    if turn.prediction is None:
        return []
    prediction = turn.prediction
    return [
        StoredPrediction(
            intent=prediction.intent,
            confidence=prediction.confidence,
            top_k=[{"intent": name, "confidence": round(p, 4)} for name, p in prediction.top_k],
            out_of_scope=turn.reply.action in FALLBACK_ACTIONS,
            adapter_version=turn.adapter_version,
            latency_ms=round(turn.latency_ms, 2),
        )
    ]

"""A customer's side of a conversation, one operation per thing the customer does.

``CustomerChat`` runs each customer turn whole: refuse or admit it, store it, acknowledge it,
answer it exactly once, tell staff and the customer's other sockets, and move the
conversation's status. It emits what the customer should see, as the typed frames of
``bot.wire.customer``, to an output port (``CustomerPort``: the socket implements it, a test
collects into a list); the hub (``bot.chat.hub``) is the other listener, for staff and other
processes. The socket handler (``bot.api.chat``) only parses frames, calls these methods and
sends what it is given; nothing here knows about WebSockets.

Order of a typed message's turn: ``ack`` once the text is stored, then the reply's ``message``
(``reply_to``: the acknowledged seq), then ``status`` if the reply moved the conversation (a
hand-off: waiting; a reply in a closed conversation: bot). A retry of a stored message is
answered with the stored reply, and nobody else hears of it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from anyio import to_thread

from bot.chat.conversation import Answered, Choice, ConversationService
from bot.chat.customer_context import CustomerContext, remember
from bot.chat.ending import end_conversation
from bot.chat.hub import Hub, Inbox, conversation_topic
from bot.chat.live import publish_csat, publish_customer_typing, publish_message, publish_status
from bot.chat.text_rules import customer_text, is_valid_text
from bot.db import chat_store
from bot.db.csat import record_csat
from bot.db.models import Message
from bot.errors import InvalidInput
from bot.staff.handoff import agent_name
from bot.wire.customer import (
    AckFrame,
    CsatOkFrame,
    CustomerFrame,
    FeedbackOkFrame,
    MessageFrame,
    StatusFrame,
    TypingFrame,
    WelcomeFrame,
)
from bot.wire.enums import ConversationStatus, Rating, Role
from bot.wire.live import LiveEvent, MessageEvent, StatusEvent, TypingEvent
from bot.wire.messages import ChatMessage


class CustomerPort(Protocol):
    """Where the frames for one customer go (the socket)."""

    async def send(self, frame: CustomerFrame) -> None: ...


class Admission(Protocol):
    """What this visitor may still do (``bot.api.visitor_limits.SocketLimits``); each method
    raises ``TooManyRequests`` to refuse."""

    async def admit_hello(self) -> None: ...

    async def admit_new_conversation(self) -> None: ...

    async def admit_message(self, conversation_id: str, text: str) -> None: ...

    async def admit_typing(self) -> None: ...

    @property
    def address(self) -> str:
        """The visitor's address (failed order lookups are limited per address too)."""
        ...


@dataclass(frozen=True)
class ChoiceRef:
    """A suggestion button as the widget names it: the seq of the reply that offered it and its
    position there."""

    seq: int
    index: int


class CustomerChat:
    """One customer connection's conversation: which one it follows and its current status."""

    def __init__(
        self,
        service: ConversationService,
        hub: Hub,
        port: CustomerPort,
        max_chars: int,
        admission: Admission | None = None,
    ) -> None:
        self.service = service
        self.hub = hub
        self.port = port
        self.max_chars = max_chars
        self.admission = admission
        self.conversation_id: str | None = None
        self.status: ConversationStatus | None = None
        # Staff messages, typing and status changes for the conversation arrive here; it is also
        # this connection's name on the hub, so what it publishes does not come back to it.
        self.inbox = Inbox()

    @property
    def said_hello(self) -> bool:
        return self.conversation_id is not None

    def is_live(self) -> bool:
        return self.status is not None and self.status.is_live

    async def hello(self, token: str | None, last_seq: int | None) -> None:
        """Open or resume the conversation: ``welcome``, the messages after ``last_seq``, the
        status when a person is involved, then the answers to turns a dead process never
        answered."""
        if self.admission is not None:
            await self.admission.admit_hello()
            if not await to_thread.run_sync(chat_store.token_is_known, self.service.factory, token):
                await self.admission.admit_new_conversation()
        resumed = await self.service.resume(token, last_seq)
        conversation = resumed.conversation
        self._follow(conversation.id)
        self.status = ConversationStatus(conversation.status)
        await self.port.send(
            WelcomeFrame(
                conversation_id=conversation.id,
                token=resumed.token,
                seq=resumed.backlog[-1].seq if resumed.backlog else conversation.last_seq,
                status=self.status,
            )
        )
        for message in resumed.backlog:
            line = ChatMessage.of(message)
            await self.port.send(MessageFrame(message=line, reply_to=resumed.reply_to_seq.get(message.id)))
        if self.status != ConversationStatus.BOT:
            name = await to_thread.run_sync(agent_name, self.service.factory, conversation.id)
            await self.port.send(StatusFrame(state=self.status, agent_name=name))
        await self._answer_unanswered(conversation.id)

    async def message(self, client_id: str, text: str, choice: ChoiceRef | None = None) -> None:
        """One customer turn: checked and admitted before anything is stored, then stored,
        acknowledged and answered (see the module's docstring for the order of frames)."""
        conversation_id = self._require_conversation()
        text = customer_text(text, self.max_chars)
        chosen: Choice | None = None
        if choice is not None:
            chosen = await self.service.resolve_choice(conversation_id, choice.seq, choice.index)
        if self.admission is not None:
            # Before anything is stored or computed: a refused message costs no model pass.
            await self.admission.admit_message(conversation_id, text)
        # A typed message goes to the model while it is being committed (a clicked suggestion
        # needs no model), so the reply waits for one commit instead of two.
        thinking = self.service.start_thinking(text) if chosen is None else None
        try:
            stored, is_new = await self.service.store_customer_message(conversation_id, client_id, text)
            await self.port.send(AckFrame(client_id=client_id, seq=stored.seq))
            visitor = self.admission.address if self.admission is not None else None
            # While a person holds the chat the bot stays silent: it calls no backend either.
            person = self.status == ConversationStatus.AGENT
            answered = await self.service.answer(
                stored, chosen, thinking, live_text=text, visitor=visitor, forms=not person
            )
        finally:
            self.service.forget(thinking)
        await self._deliver(stored, answered, customer_new=is_new)

    async def feedback(self, seq: int, rating: Rating) -> None:
        conversation_id = self._require_conversation()
        await self.service.feedback(conversation_id, seq, rating)
        await self.port.send(FeedbackOkFrame(seq=seq))

    async def csat(self, rating: int, comment: str) -> None:
        conversation_id = self._require_conversation()
        if not is_valid_text(comment):
            raise InvalidInput(
                "invalid_text", "the comment contains characters that are not valid Unicode text"
            )
        stored_comment = self.service.stored_text(comment)
        await to_thread.run_sync(record_csat, self.service.factory, conversation_id, rating, stored_comment)
        await self.port.send(CsatOkFrame(rating=rating))
        publish_csat(self.hub, conversation_id, rating)

    async def relay_live_events(self) -> None:
        """Staff messages, typing and status changes to the port, as they happen; ends with
        ``InboxOverflow`` when the customer fell too far behind."""
        while True:
            frame = self.live_frame(await self.inbox.get())
            if frame is not None:
                await self.port.send(frame)

    async def remember_customer(self, customer_id: str | None, context: CustomerContext | None) -> None:
        """Keep the widget's anonymous customer id and page context on the conversation (after
        ``hello``), for the staff's side panel."""
        conversation_id = self._require_conversation()
        if customer_id is not None or context is not None:
            await to_thread.run_sync(remember, self.service.factory, conversation_id, customer_id, context)

    async def typing(self) -> None:
        """The customer is typing: the staff watching the conversation see it. The widget sends at
        most one frame every few seconds; the visitor limits refuse more."""
        conversation_id = self._require_conversation()
        if self.admission is not None:
            await self.admission.admit_typing()
        publish_customer_typing(self.hub, conversation_id, origin=self.inbox)

    async def end(self) -> None:
        """The customer ends the conversation: closed for everyone (staff, other sockets), and a
        ``status`` closed frame here, after which the widget offers the rating."""
        conversation_id = self._require_conversation()
        if await to_thread.run_sync(end_conversation, self.service.factory, conversation_id):
            publish_status(self.hub, conversation_id, ConversationStatus.CLOSED, origin=self.inbox)
        self.status = ConversationStatus.CLOSED
        await self.port.send(StatusFrame(state=ConversationStatus.CLOSED))

    def live_frame(self, event: LiveEvent) -> CustomerFrame | None:
        """What the customer sees of a hub event: a person's messages, typing and the status."""
        if isinstance(event, StatusEvent):
            self.status = event.state
            return StatusFrame(state=event.state, agent_name=event.agent_name)
        if isinstance(event, TypingEvent):
            # The customer's own typing (from another of their sockets) is not news to them.
            return TypingFrame(agent_name=event.agent_name) if event.role == Role.AGENT else None
        if isinstance(event, MessageEvent) and event.message.role == Role.AGENT:
            return MessageFrame(message=event.message)
        return None

    def close(self) -> None:
        """Stop hearing the hub (the connection ended)."""
        self.hub.unsubscribe_all(self.inbox)

    async def _answer_unanswered(self, conversation_id: str) -> None:
        """Answer what a dead process acknowledged but never answered. While a person holds the
        conversation they stay for the agent, who sees them as the latest customer messages."""
        if self.is_live():
            return
        for stored in await self.service.unanswered_turns(conversation_id):
            # Staff may never have seen the turn: the process died before publishing it.
            await self._deliver(stored, await self.service.answer(stored), customer_new=True)

    async def _deliver(self, stored: Message, answered: Answered, customer_new: bool) -> None:
        """The reply to the port; staff and the customer's other sockets hear of new rows, and
        of the status the reply moved the conversation to."""
        # Staff see the customer's turn once its prediction (shown or shadow) is stored.
        if customer_new:
            publish_message(self.hub, ChatMessage.of(stored), origin=self.inbox, live=self.is_live())
        if answered.reply is None:
            return
        reply = ChatMessage.of(answered.reply)
        await self.port.send(MessageFrame(message=reply, reply_to=stored.seq))
        if not answered.created:
            return
        publish_message(self.hub, reply, origin=self.inbox, live=self.is_live())
        if answered.new_status is not None:
            self.status = answered.new_status
            publish_status(self.hub, reply.conversation_id, answered.new_status, origin=self.inbox)
            await self.port.send(StatusFrame(state=answered.new_status))
        await self.service.record_shadow(stored)

    def _follow(self, conversation_id: str) -> None:
        if self.conversation_id is not None:
            self.hub.unsubscribe(conversation_topic(self.conversation_id), self.inbox)
        self.conversation_id = conversation_id
        self.hub.subscribe(conversation_topic(conversation_id), self.inbox)

    def _require_conversation(self) -> str:
        if self.conversation_id is None:
            raise InvalidInput("hello_required", "send a hello frame first")
        return self.conversation_id

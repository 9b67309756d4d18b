"""Hand-off as staff do it: the database change, then the news on the hub for both sides."""

from __future__ import annotations

from anyio import to_thread
from sqlalchemy.orm import Session, sessionmaker

from bot.chat.hub import STAFF_TOPIC, Hub
from bot.chat.live import publish_message, publish_status, publish_typing
from bot.db.models import Message
from bot.staff import assignment, handoff
from bot.staff.accounts import StaffIdentity
from bot.wire.live import ActivityEvent


class LiveDesk:
    def __init__(self, factory: sessionmaker[Session], hub: Hub) -> None:
        self.factory = factory
        self.hub = hub

    async def take_over(self, conversation_id: str, staff: StaffIdentity) -> None:
        await to_thread.run_sync(handoff.take_over, self.factory, conversation_id, staff)
        publish_status(self.hub, conversation_id, "agent", staff.display_name)

    async def hand_back(self, conversation_id: str, staff: StaffIdentity, override: bool) -> None:
        await to_thread.run_sync(handoff.hand_back, self.factory, conversation_id, staff, override)
        publish_status(self.hub, conversation_id, "bot")

    async def close(self, conversation_id: str, staff: StaffIdentity, override: bool) -> None:
        await to_thread.run_sync(handoff.close, self.factory, conversation_id, staff, override)
        publish_status(self.hub, conversation_id, "closed")

    async def send(self, conversation_id: str, staff: StaffIdentity, text: str) -> Message:
        message = await to_thread.run_sync(
            handoff.add_agent_message, self.factory, conversation_id, staff, text
        )
        publish_message(self.hub, message)
        return message

    async def typing(self, conversation_id: str, staff: StaffIdentity) -> bool:
        """Tell the customer the agent is typing; False when this agent does not hold the chat."""
        if not await to_thread.run_sync(handoff.holds, self.factory, conversation_id, staff.id):
            return False
        publish_typing(self.hub, conversation_id, staff.display_name)
        return True

    async def assign(
        self, conversation_id: str, staff: StaffIdentity, username: str | None
    ) -> assignment.Assignment:
        """Assign the conversation; every console's list follows, and a customer talking to a
        person sees the new one's name."""
        done = await to_thread.run_sync(assignment.assign, self.factory, conversation_id, staff, username)
        if done.status == "agent":
            publish_status(self.hub, conversation_id, "agent", done.display_name)
        else:
            self.hub.publish(
                STAFF_TOPIC, ActivityEvent(conversation_id=conversation_id, assigned_to=done.username)
            )
        return done

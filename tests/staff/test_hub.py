"""The in-process hub: topics, origins, and inboxes that fall behind."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from bot.chat.hub import Hub, Inbox, InboxOverflow, conversation_topic
from bot.wire.enums import ConversationStatus, Role
from bot.wire.live import ActivityEvent, StatusEvent


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    # A thread of its own: Playwright's sync API may already run a loop in the main thread.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, scenario()).result()


def test_subscribers_of_a_topic_get_its_events_except_the_sender() -> None:
    async def scenario() -> None:
        hub = Hub()
        customer, staff, elsewhere = Inbox(), Inbox(), Inbox()
        topic = conversation_topic("c1")
        hub.subscribe(topic, customer)
        hub.subscribe(topic, staff)
        hub.subscribe(conversation_topic("c2"), elsewhere)
        activity = ActivityEvent(conversation_id="c1", seq=1, role=Role.USER)
        assert hub.publish(topic, activity, origin=customer) == 1
        got = await asyncio.wait_for(staff.get(), 1)
        assert got.frame() == {"type": "activity", "seq": 1, "role": "user", "conversation_id": "c1"}
        hub.unsubscribe_all(staff)
        assert hub.publish(topic, StatusEvent(conversation_id="c1", state=ConversationStatus.AGENT)) == 1
        assert (await asyncio.wait_for(customer.get(), 1)).type == "status"
        assert hub.subscriber_count(conversation_topic("c2")) == 1

    run(scenario)


def test_an_inbox_that_falls_behind_overflows_instead_of_blocking() -> None:
    async def scenario() -> None:
        hub, slow = Hub(), Inbox(size=2)
        hub.subscribe("staff", slow)
        for seq in range(3):
            hub.publish("staff", ActivityEvent(conversation_id="c1", seq=seq, role=Role.BOT))
        with pytest.raises(InboxOverflow):
            await slow.get()

    run(scenario)

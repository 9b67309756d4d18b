"""The hub, the turn lock and the login throttle across processes: two of each on one real Redis
(as two server processes would hold them), and each with a Redis that is down or comes back."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import redis

from bot.chat.hub import Hub, Inbox
from bot.chat.redis_hub import RedisHub
from bot.chat.turn_lock import RedisTurnLocks
from bot.errors import TooManyRequests
from bot.redis_link import RedisLink
from bot.staff.throttle import LoginGuard
from bot.wire.enums import ConversationStatus, Role
from bot.wire.live import ActivityEvent, LiveEvent, StatusEvent, TypingEvent

TOPIC = "conversation:c1"


def closed_port_url() -> str:
    """A Redis URL nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"redis://127.0.0.1:{port}/0"


async def until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(*hubs: Hub, reachable: bool = True) -> AsyncIterator[None]:
    tasks = [asyncio.create_task(hub.run()) for hub in hubs]
    try:
        for hub in hubs:
            if isinstance(hub, RedisHub) and reachable:
                await asyncio.wait_for(hub.reading.wait(), 10)
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for hub in hubs:
            if isinstance(hub, RedisHub):
                await hub.link.close()


async def drain(inbox: Inbox, count: int, timeout: float = 10.0) -> list[LiveEvent]:
    return [await asyncio.wait_for(inbox.get(), timeout) for _ in range(count)]


def run(coroutine: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(coroutine())  # type: ignore[arg-type]


def numbered(seq: int) -> ActivityEvent:
    return ActivityEvent(conversation_id="c1", seq=seq, role=Role.USER)


def seq_of(event: LiveEvent) -> int | None:
    return event.seq if isinstance(event, ActivityEvent) else None


def test_events_published_in_one_process_reach_every_processes_subscribers_once_and_in_order(
    redis_server_url: str, redis_prefix: str
) -> None:
    async def scenario() -> None:
        a, b = (
            RedisHub(RedisLink(redis_server_url, redis_prefix)),
            RedisHub(RedisLink(redis_server_url, redis_prefix)),
        )
        on_a, on_b, elsewhere = Inbox(), Inbox(), Inbox()
        a.subscribe(TOPIC, on_a)
        b.subscribe(TOPIC, on_b)
        b.subscribe("conversation:other", elsewhere)
        async with running(a, b):
            for number in range(50):
                a.publish(TOPIC, numbered(number))
            taken_over = StatusEvent(conversation_id="c1", state=ConversationStatus.AGENT)
            b.publish(TOPIC, taken_over)
            got_on_b = await drain(on_b, 51)
            got_on_a = await drain(on_a, 51)
            await asyncio.sleep(0.5)  # anything delivered twice would have arrived by now
            # A's events in A's order everywhere; B's own event reached B's socket at once.
            assert [seq_of(e) for e in got_on_b] == [None, *range(50)]
            assert [seq_of(e) for e in got_on_a] == [*range(50), None]
            assert (
                got_on_b[0]
                == got_on_a[50]
                == StatusEvent(conversation_id="c1", state=ConversationStatus.AGENT)
            )
            assert on_a._queue.empty() and on_b._queue.empty() and elsewhere._queue.empty()
            assert a.redis_state == b.redis_state == "ok"

    run(scenario)


def test_the_publishing_socket_is_skipped_in_its_own_process_only(
    redis_server_url: str, redis_prefix: str
) -> None:
    async def scenario() -> None:
        a, b = (
            RedisHub(RedisLink(redis_server_url, redis_prefix)),
            RedisHub(RedisLink(redis_server_url, redis_prefix)),
        )
        publisher, neighbour, remote = Inbox(), Inbox(), Inbox()
        a.subscribe(TOPIC, publisher)
        a.subscribe(TOPIC, neighbour)
        b.subscribe(TOPIC, remote)
        async with running(a, b):
            assert (
                a.publish(TOPIC, TypingEvent(conversation_id="c1", agent_name="Ann"), origin=publisher) == 1
            )
            assert (await drain(neighbour, 1))[0].type == "typing"
            assert (await drain(remote, 1))[0].type == "typing"
            await asyncio.sleep(0.5)
            assert publisher._queue.empty()

    run(scenario)


def test_an_unreachable_redis_leaves_the_hub_working_in_process_and_reported_down() -> None:
    async def scenario() -> None:
        hub = RedisHub(RedisLink(closed_port_url(), "unused:"))
        local = Inbox()
        hub.subscribe(TOPIC, local)
        async with running(hub, reachable=False):
            started = asyncio.get_running_loop().time()
            for number in range(100):
                assert hub.publish(TOPIC, numbered(number)) == 1
            assert asyncio.get_running_loop().time() - started < 0.1  # publishing never waits on Redis
            assert [seq_of(e) for e in await drain(local, 100)] == list(range(100))
            await until(lambda: hub.redis_state == "down")

    run(scenario)


class Proxy:
    """A TCP relay in front of Redis that the test can cut and restore, like a Redis restart."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.server: asyncio.Server | None = None
        self.port = 0
        self.links: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in list(self.links):
            writer.transport.abort()
        await self.server.wait_closed()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        self.links.update((writer, upstream_writer))

        async def pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, ConnectionError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.transport.abort()

        await asyncio.gather(pump(reader, upstream_writer), pump(upstream_reader, writer))
        self.links.difference_update((writer, upstream_writer))


def test_events_published_while_redis_is_away_arrive_when_it_returns(
    redis_server_url: str, redis_prefix: str
) -> None:
    async def scenario() -> None:
        proxy = Proxy(redis.connection.parse_url(redis_server_url).get("port", 6379))
        await proxy.start()
        cut_off = RedisHub(RedisLink(f"redis://127.0.0.1:{proxy.port}/0", redis_prefix))
        steady = RedisHub(RedisLink(redis_server_url, redis_prefix))
        on_steady, on_cut_off = Inbox(), Inbox()
        steady.subscribe(TOPIC, on_steady)
        cut_off.subscribe(TOPIC, on_cut_off)
        async with running(cut_off, steady):
            cut_off.publish(TOPIC, numbered(1))
            assert (await drain(on_steady, 1))[0] == numbered(1)
            await proxy.cut()
            await until(lambda: cut_off.redis_state == "down")
            cut_off.publish(TOPIC, numbered(2))  # waits in the outbox
            steady.publish(TOPIC, numbered(3))  # in the stream, unread
            await proxy.start()  # same port: the hub reconnects with backoff
            # Each process's own events first (delivered at once), then the other's, once each.
            assert [seq_of(e) for e in await drain(on_steady, 2)] == [3, 2]
            assert [seq_of(e) for e in await drain(on_cut_off, 3)] == [1, 2, 3]
            await until(lambda: cut_off.redis_state == "ok")
            await asyncio.sleep(0.5)
            assert on_steady._queue.empty() and on_cut_off._queue.empty()
        await proxy.cut()

    run(scenario)


def test_a_turn_waits_for_the_other_processes_turn_on_the_same_conversation(
    redis_server_url: str, redis_prefix: str
) -> None:
    async def scenario() -> None:
        a = RedisTurnLocks(RedisLink(redis_server_url, redis_prefix), expiry_seconds=5)
        b = RedisTurnLocks(RedisLink(redis_server_url, redis_prefix), expiry_seconds=5)
        order: list[str] = []

        async def turn(locks: RedisTurnLocks, name: str, conversation: str) -> None:
            async with locks.hold(conversation):
                order.append(f"{name} in")
                await asyncio.sleep(0.3)
                order.append(f"{name} out")

        first = asyncio.create_task(turn(a, "a", "c1"))
        await asyncio.sleep(0.05)
        await asyncio.gather(turn(b, "b", "c1"), turn(b, "other", "c2"), first)
        assert order.index("b in") > order.index("a out")
        assert order.index("other in") < order.index("a out")  # other conversations never wait
        await a.link.close()
        await b.link.close()

    run(scenario)


def test_a_lock_left_by_a_dead_process_lapses_after_its_expiry(
    redis_server_url: str, redis_prefix: str
) -> None:
    async def scenario() -> None:
        locks = RedisTurnLocks(RedisLink(redis_server_url, redis_prefix), expiry_seconds=5)
        # What a process killed in the middle of a turn leaves behind: its key, expiring.
        await locks.link.client.set(locks.link.key("turn", "c1"), "dead-process-token", px=700)
        started = asyncio.get_running_loop().time()
        async with locks.hold("c1"):
            waited = asyncio.get_running_loop().time() - started
        assert 0.5 < waited < 3
        await locks.link.close()

    run(scenario)


def test_a_slow_turn_keeps_its_lock_past_the_expiry(redis_server_url: str, redis_prefix: str) -> None:
    async def scenario() -> None:
        a = RedisTurnLocks(RedisLink(redis_server_url, redis_prefix), expiry_seconds=0.3)
        b = RedisTurnLocks(RedisLink(redis_server_url, redis_prefix), expiry_seconds=0.3)
        order: list[str] = []

        async def slow() -> None:
            async with a.hold("c1"):
                await asyncio.sleep(1.0)  # three expiries: renewed meanwhile
                order.append("a out")

        holder = asyncio.create_task(slow())
        await asyncio.sleep(0.05)
        async with b.hold("c1"):
            order.append("b in")
        await holder
        assert order == ["a out", "b in"]
        await a.link.close()
        await b.link.close()

    run(scenario)


def test_with_redis_down_turns_still_run_one_at_a_time_in_the_process() -> None:
    async def scenario() -> None:
        locks = RedisTurnLocks(RedisLink(closed_port_url(), "unused:"), expiry_seconds=5)
        inside = 0
        most = 0

        async def turn() -> None:
            nonlocal inside, most
            async with locks.hold("c1"):
                inside += 1
                most = max(most, inside)
                await asyncio.sleep(0.05)
                inside -= 1

        await asyncio.wait_for(asyncio.gather(*(turn() for _ in range(5))), 10)
        assert most == 1
        assert locks.link.state == "down"
        await locks.link.close()

    run(scenario)


def test_login_attempts_per_address_are_counted_across_processes(
    redis_server_url: str, redis_prefix: str
) -> None:
    first = LoginGuard(attempts_per_minute=3, redis_url=redis_server_url, redis_prefix=redis_prefix)
    second = LoginGuard(attempts_per_minute=3, redis_url=redis_server_url, redis_prefix=redis_prefix)
    first.admit("10.0.0.1", "ann")
    second.admit("10.0.0.1", "bob")
    first.admit("10.0.0.1", "cid")
    with pytest.raises(TooManyRequests) as refused:
        second.admit("10.0.0.1", "dan")
    assert refused.value.code == "too_many_logins"
    second.admit("10.0.0.2", "dan")  # another address has its own count


def test_login_attempts_are_still_limited_per_process_when_redis_is_unreachable() -> None:
    guard = LoginGuard(attempts_per_minute=2, redis_url=closed_port_url(), redis_prefix="unused:")
    guard.admit("10.0.0.1", "ann")
    guard.admit("10.0.0.1", "ann")
    with pytest.raises(TooManyRequests):
        guard.admit("10.0.0.1", "ann")

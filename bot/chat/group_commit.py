"""Group commit: the chat's writes from many conversations share one transaction.

Each chat turn writes twice (the customer's message before its ``ack``, the reply with its
predictions before it is sent), and every commit costs a transaction and, with SQLite's
``synchronous=full``, an fsync, while SQLite admits one writer at a time. Under load the
writers queued for the write lock: measured at 200 concurrent customers, most of the database
time of a turn was spent waiting for it. Here one writer thread runs every waiting write in
one transaction and commits once; writes that arrive meanwhile go into the next group. A write
alone (one customer) runs at once, as before.

Each write comes in two forms: ``grouped`` works inside the shared transaction and must neither
commit nor roll back; ``alone`` is the same write in a transaction of its own. If anything in a
group fails, the group is rolled back as a whole and each of its writes runs again ``alone``, so
one bad write (a conversation that vanished, a retry racing its original) fails only its own
caller and never takes the others with it. Callers hear back only after their write committed:
nothing is acknowledged before it is durable.

The server groups commits on SQLite and on PostgreSQL. PostgreSQL takes concurrent writers and
groups the WAL flushes of concurrent commits itself, but every transaction of its own still costs
the server a thread hop, a pool checkout (with its ping), BEGIN and COMMIT in Python: grouped,
a busy server pays those once per group. ``synchronous_commit`` stays on: a group's callers hear
back after its commit reached the disk.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy.orm import Session, sessionmaker

from bot.chat.batching import MicroBatcher

R = TypeVar("R")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Write(Generic[R]):
    grouped: Callable[[Session], R]
    alone: Callable[[], R]


@dataclass(frozen=True)
class _Outcome:
    value: Any = None
    error: BaseException | None = None


class GroupCommitter:
    def __init__(self, factory: sessionmaker[Session], max_group: int = 128) -> None:
        self.factory = factory
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="db-writer")
        # The batcher's key is always the factory: every write may share a group.
        self._batcher: MicroBatcher[sessionmaker[Session], Write[Any], _Outcome] = MicroBatcher(
            commit_group, self.executor, window_s=0.0, max_size=max_group
        )

    async def run(self, write: Write[R]) -> R:
        """The write's result once it is committed; its own error if it failed."""
        outcome = await self._batcher.submit(self.factory, write)
        if outcome.error is not None:
            raise outcome.error
        value: R = outcome.value
        return value

    def close(self) -> None:
        """Refuse new writes; a group already running still commits."""
        self._batcher.close()
        self.executor.shutdown(wait=True)


def commit_group(factory: sessionmaker[Session], writes: list[Write[Any]]) -> list[_Outcome]:
    try:
        with factory() as session:
            values = [write.grouped(session) for write in writes]
            session.commit()
        return [_Outcome(value=value) for value in values]
    except Exception:  # noqa: BLE001 - which write failed is found out below, one by one
        if len(writes) > 1:
            log.info("a group of %d writes failed; running each on its own", len(writes))
    outcomes = []
    for write in writes:
        try:
            outcomes.append(_Outcome(value=write.alone()))
        except Exception as error:  # noqa: BLE001 - goes back to the one caller it belongs to
            outcomes.append(_Outcome(error=error))
    return outcomes

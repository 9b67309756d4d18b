"""Processes starting together on one PostgreSQL database take turns through start-up's work."""

from __future__ import annotations

import threading
import time

from bot.db.startup_lock import startup_lock


def test_a_second_process_waits_until_the_first_has_finished_its_start_up(postgres_url: str) -> None:
    events: list[str] = []
    first_inside = threading.Event()

    def first() -> None:
        with startup_lock(postgres_url):
            events.append("first in")
            first_inside.set()
            time.sleep(0.5)
            events.append("first out")

    def second() -> None:
        first_inside.wait(10)
        with startup_lock(postgres_url):
            events.append("second in")

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert events == ["first in", "first out", "second in"]


def test_sqlite_takes_no_lock(sqlite_url: str) -> None:
    with startup_lock(sqlite_url), startup_lock(sqlite_url):  # would deadlock if it locked
        pass

"""The login throttle counts failures per address and username, within a time window."""

from __future__ import annotations

import time

from bot.staff.throttle import LoginThrottle


def test_failures_beyond_the_limit_block_until_the_window_passes() -> None:
    throttle = LoginThrottle(max_failures=2, window_seconds=0.2)
    throttle.failed("10.0.0.1", "ann")
    assert throttle.wait_seconds("10.0.0.1", "ann") == 0
    throttle.failed("10.0.0.1", "ann")
    assert 0 < throttle.wait_seconds("10.0.0.1", "ann") <= 0.2
    assert throttle.wait_seconds("10.0.0.2", "ann") == 0
    assert throttle.wait_seconds("10.0.0.1", "ben") == 0
    time.sleep(0.25)
    assert throttle.wait_seconds("10.0.0.1", "ann") == 0


def test_a_successful_login_clears_the_count() -> None:
    throttle = LoginThrottle(max_failures=2)
    throttle.failed("10.0.0.1", "ann")
    throttle.succeeded("10.0.0.1", "ann")
    throttle.failed("10.0.0.1", "ann")
    assert throttle.wait_seconds("10.0.0.1", "ann") == 0

"""Slow down password guessing: after a few failed logins from one address for one username,
refuse further attempts for a while (argon2 already makes each guess cost ~0.5 s of CPU)."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque

MAX_FAILURES = 5
WINDOW_SECONDS = 300.0


class LoginThrottle:
    def __init__(self, max_failures: int = MAX_FAILURES, window_seconds: float = WINDOW_SECONDS) -> None:
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self._failures: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait_seconds(self, address: str, username: str) -> float:
        """How long this address must wait before trying this username again (0: go ahead)."""
        with self._lock:
            failures = self._recent(address, username)
            if len(failures) < self.max_failures:
                return 0.0
            return max(0.0, failures[0] + self.window_seconds - time.monotonic())

    def failed(self, address: str, username: str) -> None:
        with self._lock:
            self._recent(address, username).append(time.monotonic())

    def succeeded(self, address: str, username: str) -> None:
        with self._lock:
            self._failures.pop((address, username), None)

    def _recent(self, address: str, username: str) -> deque[float]:
        failures = self._failures[(address, username)]
        cutoff = time.monotonic() - self.window_seconds
        while failures and failures[0] < cutoff:
            failures.popleft()
        return failures

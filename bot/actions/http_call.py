"""Calling an action's backend: one shared ``httpx.AsyncClient``, deadlines, retries, a breaker.

Every call ends in an ``Outcome`` rather than an exception, so the turn always has something
to say. Failure policy:

- a hard deadline of ``timeout_seconds`` per attempt (the whole request, not each read);
- retries (``retries``, idempotent calls only) after a refused connection or a 5xx, which fail
  fast; never after a timeout, since a backend that is slow now would make the customer wait
  twice as long for the same fallback;
- a circuit breaker per action: after ``breaker.failures`` failed calls in a row the action is
  not called for ``breaker.open_seconds``, then one trial call decides (half-open). A 404 (no
  such order) is an answer, not a failure.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from bot.actions.definitions import PATH_PLACEHOLDER, SECRET_REFERENCE, ActionDefinition, Method
from bot.actions.signing import signed_headers

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 256 * 1024
RETRY_PAUSE_SECONDS = 0.1
USER_AGENT = "support-bot-actions/1"


class Outcome(StrEnum):
    OK = "ok"
    NOT_FOUND = "not_found"
    FAILED = "failed"
    CIRCUIT_OPEN = "circuit_open"
    NOT_CONFIGURED = "not_configured"


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class CallResult:
    """``data`` is the answer's JSON object when ``outcome`` is OK; ``reason`` says why not."""

    outcome: Outcome
    data: dict[str, Any] | None = None
    status: int | None = None
    latency_ms: float = 0.0
    attempts: int = 0
    reason: str = ""


class CircuitBreaker:
    def __init__(self, failures: int, open_seconds: float, clock: Callable[[], float]) -> None:
        self.threshold = failures
        self.open_seconds = open_seconds
        self.clock = clock
        self.failures_in_a_row = 0
        self.opened_at: float | None = None
        self.trial_running = False

    @property
    def state(self) -> CircuitState:
        if self.opened_at is None:
            return CircuitState.CLOSED
        if self.clock() - self.opened_at < self.open_seconds:
            return CircuitState.OPEN
        return CircuitState.HALF_OPEN

    def allow(self) -> bool:
        """Whether a call may go out now (half-open lets one trial through at a time)."""
        state = self.state
        if state is CircuitState.CLOSED:
            return True
        if state is CircuitState.HALF_OPEN and not self.trial_running:
            self.trial_running = True
            return True
        return False

    def record(self, success: bool) -> None:
        self.trial_running = False
        if success:
            self.failures_in_a_row = 0
            self.opened_at = None
            return
        self.failures_in_a_row += 1
        if self.opened_at is not None or self.failures_in_a_row >= self.threshold:
            self.opened_at = self.clock()


@dataclass
class ActionStats:
    """What one action did in this process, for the logs and the console."""

    calls: int = 0
    failures: int = 0
    not_found: int = 0
    refused_by_circuit: int = 0
    latency_ms_total: float = 0.0
    last_failure: str = ""
    outcomes: dict[str, int] = field(default_factory=dict)

    def count(self, result: CallResult) -> None:
        self.outcomes[result.outcome] = self.outcomes.get(result.outcome, 0) + 1
        if result.outcome is Outcome.CIRCUIT_OPEN:
            self.refused_by_circuit += 1
            return
        self.calls += 1
        self.latency_ms_total += result.latency_ms
        if result.outcome is Outcome.NOT_FOUND:
            self.not_found += 1
        elif result.outcome is not Outcome.OK:
            self.failures += 1
            self.last_failure = result.reason


class ActionCaller:
    """Calls actions at ``base_url`` with ``client`` (shared by every call of the process)."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        base_url: str | None,
        secrets: Mapping[str, str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.base_url = base_url.rstrip("/") if base_url else None
        self.secrets = dict(secrets)
        self.clock = clock
        self.breakers: dict[str, CircuitBreaker] = {}
        self.stats: dict[str, ActionStats] = {}

    def breaker(self, name: str, action: ActionDefinition) -> CircuitBreaker:
        breaker = self.breakers.get(name)
        if (
            breaker is None
            or breaker.threshold != action.breaker.failures
            or breaker.open_seconds != action.breaker.open_seconds
        ):
            breaker = CircuitBreaker(action.breaker.failures, action.breaker.open_seconds, self.clock)
            self.breakers[name] = breaker
        return breaker

    def circuit_state(self, name: str) -> CircuitState:
        breaker = self.breakers.get(name)
        return breaker.state if breaker is not None else CircuitState.CLOSED

    async def call(self, name: str, action: ActionDefinition, slots: Mapping[str, str]) -> CallResult:
        result = await self._call(name, action, slots)
        self.stats.setdefault(name, ActionStats()).count(result)
        log.info(
            "action %s: %s status=%s attempts=%d latency_ms=%.1f circuit=%s%s",
            name,
            result.outcome,
            result.status,
            result.attempts,
            result.latency_ms,
            self.circuit_state(name),
            f" reason={result.reason}" if result.reason else "",
        )
        return result

    async def _call(self, name: str, action: ActionDefinition, slots: Mapping[str, str]) -> CallResult:
        try:
            request = self.build_request(action, slots)
        except LookupError as missing:
            return CallResult(Outcome.NOT_CONFIGURED, reason=str(missing.args[0]))
        breaker = self.breaker(name, action)
        if not breaker.allow():
            return CallResult(Outcome.CIRCUIT_OPEN, reason="circuit open")
        started = time.perf_counter()
        attempts = 0
        result = CallResult(Outcome.FAILED)
        try:
            while True:
                attempts += 1
                result, retry = await self._attempt(action, request)
                if not (retry and action.retryable and attempts <= action.retries):
                    break
                await anyio.sleep(RETRY_PAUSE_SECONDS * attempts)
        finally:
            # Also on cancellation (the customer left): a half-open trial must not stay taken.
            breaker.record(result.outcome in (Outcome.OK, Outcome.NOT_FOUND))
        latency_ms = (time.perf_counter() - started) * 1000
        return CallResult(result.outcome, result.data, result.status, latency_ms, attempts, result.reason)

    def build_request(self, action: ActionDefinition, slots: Mapping[str, str]) -> httpx.Request:
        """The request for ``slots``; LookupError names what is not configured."""
        if self.base_url is None:
            raise LookupError("BOT_ACTIONS_BASE_URL is not set")
        path = PATH_PLACEHOLDER.sub(lambda match: quote(slots[match[1]], safe=""), action.path)
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        for header, value in action.headers.items():
            headers[header] = SECRET_REFERENCE.sub(lambda match: self._secret(match[1]), value)
        fields = {field: slots[slot] for field, slot in action.body.items()}
        content = b""
        params: dict[str, str] | None = None
        if action.method in (Method.GET, Method.DELETE):
            params = fields or None
        elif fields:
            content = json.dumps(fields, separators=(",", ":"), ensure_ascii=False).encode()
            headers["Content-Type"] = "application/json"
        if action.sign is not None:
            # A GET signs its empty body: the timestamp still makes a replay expire.
            headers.update(signed_headers(self._secret(action.sign), content))
        return self.client.build_request(
            action.method.value, self.base_url + path, params=params, content=content or None, headers=headers
        )

    def _secret(self, name: str) -> str:
        value = self.secrets.get(name)
        if not value:
            raise LookupError(f"secret {name} is not in BOT_ACTION_SECRETS")
        return value

    async def _attempt(self, action: ActionDefinition, request: httpx.Request) -> tuple[CallResult, bool]:
        """One try: its result and whether another try could succeed."""
        try:
            with anyio.fail_after(action.timeout_seconds):
                response = await self.client.send(request)
                await response.aclose()
        except TimeoutError:
            return CallResult(Outcome.FAILED, reason=f"timeout after {action.timeout_seconds:g} s"), False
        except httpx.TransportError as error:
            return CallResult(Outcome.FAILED, reason=f"{type(error).__name__}"), True
        status = response.status_code
        if status == 404:
            return CallResult(Outcome.NOT_FOUND, status=status), False
        if status >= 500:
            return CallResult(Outcome.FAILED, status=status, reason=f"HTTP {status}"), True
        if not 200 <= status < 300:
            return CallResult(Outcome.FAILED, status=status, reason=f"HTTP {status}"), False
        if len(response.content) > MAX_ANSWER_BYTES:
            return CallResult(Outcome.FAILED, status=status, reason="answer too large"), False
        try:
            data = json.loads(response.content)
        except (json.JSONDecodeError, UnicodeDecodeError):
            return CallResult(Outcome.FAILED, status=status, reason="answer is not JSON"), False
        if not isinstance(data, dict):
            return CallResult(Outcome.FAILED, status=status, reason="answer is not a JSON object"), False
        return CallResult(Outcome.OK, data=data, status=status), False

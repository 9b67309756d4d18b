"""Property-based fuzzing of everything a visitor can send: the customer socket, the staff socket
and the staff API's query strings (5,000+ generated inputs a run, fixed seeds so CI is stable).

For every input: no handler crashes (the test client re-raises a server exception, which is what a
1006 close is in production), no 5xx, no traceback in the server log, and afterwards the socket
still answers a normal turn.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import create_app
from bot.config import Settings
from bot.services import Models
from tests.api.test_chat_ws import hello, say
from tests.staff.support import receive_within, staff

CUSTOMER_EXAMPLES = 2500
STAFF_EXAMPLES = 1500
API_EXAMPLES = 600  # a run, on SQLite and on PostgreSQL: 1,200


def fuzz(examples: int) -> settings:
    return settings(FUZZ, max_examples=examples)


FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,  # the same inputs every run: CI fails on code changes, not on luck
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
)

# Text as JSON can carry it: lone surrogates and NUL included.
any_text = st.text(alphabet=st.characters(codec=None), max_size=40)
numbers = st.one_of(
    st.integers(), st.integers(min_value=-(10**40), max_value=10**40), st.floats(allow_nan=False)
)
json_scalars = st.one_of(st.none(), st.booleans(), numbers, any_text)
json_values = st.recursive(
    json_scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(any_text, children, max_size=3)
    ),
    max_leaves=8,
)


def frames(types: list[str], fields: dict[str, Any]) -> st.SearchStrategy[str]:
    """Frames near the protocol (known types, known fields, wrong values) and far from it."""
    near = st.fixed_dictionaries(
        {"type": st.one_of(st.sampled_from(types), any_text)},
        optional={name: st.one_of(strategy, json_values) for name, strategy in fields.items()},
    ).map(json.dumps)
    far = st.one_of(
        json_values.map(json.dumps),
        st.text(max_size=60),
        st.integers(min_value=1, max_value=2000).map(lambda depth: "[" * depth + "]" * depth),
        st.integers(min_value=1, max_value=2000).map(lambda depth: '{"a":' * depth + "1" + "}" * depth),
    )
    return st.one_of(near, near, far)


customer_frames = frames(
    ["hello", "message", "feedback", "csat"],
    {
        "token": st.one_of(st.none(), any_text),
        "last_seq": numbers,
        "client_id": st.one_of(st.uuids().map(str), any_text),
        "text": st.one_of(st.sampled_from(["where is my order?", "hi", " "]), any_text),
        "choice": st.fixed_dictionaries({"seq": numbers, "index": numbers}),
        "seq": numbers,
        "rating": st.one_of(st.sampled_from(["up", "down", 1, 5]), numbers),
        "comment": any_text,
    },
)
staff_frames = frames(
    ["watch", "typing", "ping"],
    {"conversation_id": st.one_of(st.uuids().map(str), any_text)},
)


@pytest.fixture
def client(settings: Settings, models: Models) -> Iterator[TestClient]:
    """The app with the visitor limits out of reach: one socket sends thousands of frames here.
    Each limit's refusal is tested in tests/api/test_chat_limits.py."""
    unlimited = settings.model_copy(
        update={
            "chat_messages_per_minute": 10**6,
            "chat_conversation_messages_per_minute": 10**6,
            "chat_new_conversations_per_ip_per_hour": 10**6,
            "chat_conversation_bytes_per_day": 10**9,
        }
    )
    with TestClient(create_app(unlimited, models)) as test_client:
        yield test_client


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.WARNING)
    yield caplog
    tracebacks = [
        record for record in caplog.records if record.exc_info or "Traceback" in record.getMessage()
    ]
    assert not tracebacks, [record.getMessage() for record in tracebacks]


def send_every_frame(ws: Any, frames: st.SearchStrategy[str], examples: int) -> None:
    """Send ``examples`` generated frames; after each, read every frame it caused, up to the
    refusal of a marker frame sent behind it, so the socket must still answer, and in order."""
    markers = (f"sync{number}" for number in range(10**9))

    @fuzz(examples)
    @given(raw=frames)
    def one_frame(raw: str) -> None:
        ws.send_text(raw)
        marker = next(markers)
        ws.send_json({"type": marker})
        for _ in range(20):
            frame = receive_within(ws, 30)
            if frame.get("type") == "error" and marker in frame.get("detail", ""):
                return
        raise AssertionError("the socket stopped answering in order")

    one_frame()


def test_the_customer_socket_survives_any_frame(
    client: TestClient, server_log: pytest.LogCaptureFixture
) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        hello(ws)
        send_every_frame(ws, customer_frames, CUSTOMER_EXAMPLES)
        hello(ws)
        ack, reply = say(ws, "where is my order?", "after-fuzzing")
    assert ack["type"] == "ack" and reply["intent"]["name"] == "track_order"


def test_the_staff_socket_survives_any_frame(
    client: TestClient, cheap_passwords: None, server_log: pytest.LogCaptureFixture
) -> None:
    agent = staff(client, "ann")
    with client.websocket_connect("/ws/staff", headers=agent.headers(csrf=False)) as ws:
        assert receive_within(ws)["type"] == "hello"
        send_every_frame(ws, staff_frames, STAFF_EXAMPLES)
        ws.send_json({"type": "ping"})
        assert receive_within(ws) == {"type": "pong"}


url_text = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=30)
# Values a database chokes on are drawn often, not left to luck: NUL, LIKE wildcards, quotes.
nasty = st.sampled_from(["\x00", "a\x00b", "%", "_", "\\", "'", '"', "1e309", "-0", "NaN", "10" * 20])
query_values = st.one_of(url_text, nasty, numbers.map(str), st.sampled_from(["true", "false", "2026-01-01"]))
ROUTES = [
    (
        "/api/conversations",
        [
            "q",
            "from",
            "to",
            "intent",
            "confidence_below",
            "fallback",
            "handoff",
            "thumbs_down",
            "reviewed",
            "state",
            "page",
            "page_size",
        ],
    ),
    ("/api/review-queue", ["page", "page_size"]),
    ("/api/intent-proposals", ["state"]),
    ("/api/conversations/{id}", ["after_seq"]),
    ("/api/messages/{id}/labels", []),
    ("/api/live", []),
    ("/api/csat", []),
]


def test_the_staff_api_answers_any_query_without_a_server_error(
    db_client: TestClient, cheap_passwords: None, server_log: pytest.LogCaptureFixture
) -> None:
    headers = staff(db_client, "ann", role="admin").headers()

    @fuzz(API_EXAMPLES)
    @given(data=st.data())
    def one_request(data: st.DataObject) -> None:
        path, names = data.draw(st.sampled_from(ROUTES))
        segment = data.draw(st.one_of(url_text, nasty, numbers.map(str), st.uuids().map(str)))
        path = path.replace("{id}", quote(segment, safe=""))
        params = data.draw(st.dictionaries(st.sampled_from(names or ["x"]), query_values, max_size=4))
        response = db_client.get(path, params=params, headers=headers)
        assert response.status_code < 500, (path, params, response.text)

    one_request()

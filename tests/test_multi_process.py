"""Several `bot serve` processes on one PostgreSQL database and one Redis behave as one server.

Three real servers (A and B single processes, C with `--workers 2`) share a fresh database and a
Redis namespace of their own. A customer on A asks for a person, an agent on B takes over and
writes, staff watch on C; an admin promotes through C and A serves it; a reply edited through B
is served by A; login attempts and a conversation's messages count across processes; and A is
killed with SIGKILL while it owes answers, after which its customer resumes on B and C at once
and gets every message, each acknowledged one answered exactly once.

Started once per module (each process loads the models: ~10-30 s of CPU).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from websockets.asyncio.client import ClientConnection, connect

from bot.config import PROJECT_ROOT, sqlalchemy_url
from bot.db.session import create_db_engine, create_session_factory
from bot.staff import accounts
from tests.conftest import delete_redis_prefix
from tests.test_startup import free_port

POLL_SECONDS = 1.0
LOGINS_PER_MINUTE = 6
# Above the 13 messages the kill test sends in one conversation.
CONVERSATION_MESSAGES_PER_MINUTE = 14
PASSWORD = "correct horse battery staple"
HANDOFF_TEXT = "i want to talk to a real human please"
EVENT_TIMEOUT_S = 30.0
# Four processes load the models at once: on two busy shared cores that took over 4 minutes.
START_TIMEOUT_S = 600.0


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def chat(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat"

    @property
    def staff(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/staff"

    def health(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.http}/healthz", timeout=5) as response:
            body: dict[str, Any] = json.load(response)
            return body


@dataclass
class Cluster:
    a: Server
    b: Server
    c: Server
    database_url: str


@pytest.fixture(scope="module")
def shared_database(postgres_server_url: str) -> Iterator[str]:
    name = f"bot_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(sqlalchemy_url(postgres_server_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def start(name: str, port: int, env: dict[str, str], workers: int = 1) -> Server:
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--log-level", "warning"]
    if workers > 1:
        command += ["--workers", str(workers)]
    return Server(name, port, subprocess.Popen(command, cwd=PROJECT_ROOT, env=env))


def wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        with suppress(OSError):
            if server.health()["status"] == "ok":
                return
        assert server.process.poll() is None, f"{server.name} exited with {server.process.returncode}"
        assert time.monotonic() < deadline, f"{server.name} did not become healthy"
        time.sleep(0.3)


def stop(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@pytest.fixture(scope="module")
def cluster(shared_database: str, redis_server_url: str, state_dir: Path) -> Iterator[Cluster]:
    prefix = f"bot-test-{uuid.uuid4().hex[:12]}:"
    env = {
        **os.environ,
        "BOT_DATABASE_URL": shared_database,
        "BOT_REDIS_URL": redis_server_url,
        "BOT_REDIS_PREFIX": prefix,
        "BOT_STATE_DIR": str(state_dir),
        "BOT_ADAPTER_POLL_SECONDS": str(POLL_SECONDS),
        "BOT_CONTENT_POLL_SECONDS": str(POLL_SECONDS),
        "BOT_LOGIN_ATTEMPTS_PER_IP_PER_MINUTE": str(LOGINS_PER_MINUTE),
        "BOT_CHAT_CONVERSATION_MESSAGES_PER_MINUTE": str(CONVERSATION_MESSAGES_PER_MINUTE),
        # The login-limit test gives each attempt its own client address through this header.
        "BOT_FORWARDED_ALLOW_IPS": "127.0.0.1",
        "BOT_CHAT_NEW_CONVERSATIONS_PER_IP_PER_HOUR": "1000",
        "BOT_CHAT_SOCKETS_PER_IP": "1000",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
    }
    servers: list[Server] = []
    try:
        # All three start together: the start-up lock lets one migrate and seed the empty
        # database while the others wait for it.
        servers = [
            start("A", free_port(), env),
            start("B", free_port(), env),
            start("C", free_port(), env, 2),
        ]
        for server in servers:
            wait_healthy(server)
        yield Cluster(servers[0], servers[1], servers[2], database_url=shared_database)
    finally:
        for server in servers:
            stop(server)
        delete_redis_prefix(redis_server_url, prefix)


@dataclass
class Staff:
    server: Server
    cookie: str
    csrf: str

    def post(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        headers = {"cookie": self.cookie, "X-CSRF-Token": self.csrf}
        return httpx.post(f"{self.server.http}{path}", json=body or {}, headers=headers, timeout=120)


def create_staff(database_url: str, username: str, role: str) -> None:
    engine = create_db_engine(database_url)
    try:
        accounts.create_user(create_session_factory(engine), username, PASSWORD, role)
    finally:
        engine.dispose()


def log_in(server: Server, username: str) -> Staff:
    response = httpx.post(
        f"{server.http}/api/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    assert response.status_code == 200, response.text
    cookie = "; ".join(f"{name}={value}" for name, value in response.cookies.items())
    return Staff(server, cookie, response.json()["csrf_token"])


async def next_frame(ws: ClientConnection, wanted: dict[str, Any]) -> dict[str, Any]:
    """The next frame whose fields include ``wanted``, skipping others (within the timeout)."""
    async with asyncio.timeout(EVENT_TIMEOUT_S):
        while True:
            frame: dict[str, Any] = json.loads(await ws.recv())
            if all(frame.get(key) == value for key, value in wanted.items()):
                return frame


async def say(ws: ClientConnection, text: str) -> int:
    await ws.send(json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": text}))
    return int((await next_frame(ws, {"type": "ack"}))["seq"])


def test_every_process_reports_redis_and_serves_one_adapter(cluster: Cluster) -> None:
    health = [server.health() for server in (cluster.a, cluster.b, cluster.c)]
    assert [body["redis"] for body in health] == ["ok", "ok", "ok"]
    assert len({body["adapter"] for body in health}) == 1


def test_hand_off_take_over_and_messages_cross_processes(cluster: Cluster) -> None:
    create_staff(cluster.database_url, "ann", "agent")
    create_staff(cluster.database_url, "cid", "agent")
    agent_on_b = log_in(cluster.b, "ann")
    watcher_on_c = log_in(cluster.c, "cid")

    async def scenario() -> None:
        async with (
            connect(cluster.a.chat) as customer,
            connect(cluster.c.staff, additional_headers={"cookie": watcher_on_c.cookie}) as console,
        ):
            await customer.send(json.dumps({"type": "hello"}))
            conversation = (await next_frame(customer, {"type": "welcome"}))["conversation_id"]
            await say(customer, HANDOFF_TEXT)
            reply = await next_frame(customer, {"type": "message", "role": "bot"})
            assert reply["action"] == "handoff"
            # Published on A, seen on C's staff socket: the live queue crosses processes.
            await next_frame(console, {"type": "status", "conversation_id": conversation, "state": "waiting"})

            taken = await asyncio.to_thread(agent_on_b.post, f"/api/conversations/{conversation}/take-over")
            assert taken.status_code == 200, taken.text
            status = await next_frame(customer, {"type": "status", "state": "agent"})
            assert status["agent_name"] == "ann"
            sent = await asyncio.to_thread(
                agent_on_b.post, f"/api/conversations/{conversation}/messages", {"text": "Hello, Ann here."}
            )
            assert sent.status_code == 201, sent.text
            agent_message = await next_frame(customer, {"type": "message", "role": "agent"})
            assert (agent_message["text"], agent_message["agent_name"]) == ("Hello, Ann here.", "ann")

            await console.send(json.dumps({"type": "watch", "conversation_id": conversation}))
            await asyncio.sleep(0.5)  # the watch frame is handled before the customer writes
            seq = await say(customer, "thanks, my order number is 12345")
            seen = await next_frame(console, {"type": "message", "conversation_id": conversation, "seq": seq})
            assert (seen["role"], seen["text"]) == ("user", "thanks, my order number is 12345")

    asyncio.run(scenario())


def test_a_promotion_through_one_process_is_served_by_the_others(cluster: Cluster) -> None:
    create_staff(cluster.database_url, "root", "admin")
    admin_on_c = log_in(cluster.c, "root")
    serving = cluster.a.health()["adapter"]
    other = "default/v1" if serving != "default/v1" else "default/v2"
    promoted = admin_on_c.post(
        f"/api/adapters/{other}/promote", {"force": True, "reason": "multi-process test"}
    )
    assert promoted.status_code == 200, promoted.text
    answered_at = time.monotonic()
    for server in (cluster.a, cluster.b):
        while server.health()["adapter"] != other:
            assert time.monotonic() - answered_at < POLL_SECONDS + 30, f"{server.name} still serves {serving}"
            time.sleep(0.2)
    print(f"promotion served by A and B {time.monotonic() - answered_at:.1f} s after C answered")


def test_a_reply_edited_through_one_process_is_served_by_another(cluster: Cluster) -> None:
    create_staff(cluster.database_url, "olga", "operator")
    operator_on_b = log_in(cluster.b, "olga")
    edited = "Hello from the edited greeting."

    async def greeting_on_a() -> dict[str, Any]:
        async with connect(cluster.a.chat) as customer:
            await customer.send(json.dumps({"type": "hello"}))
            await next_frame(customer, {"type": "welcome"})
            await say(customer, "hello")
            return await next_frame(customer, {"type": "message", "role": "bot"})

    before = asyncio.run(greeting_on_a())
    assert (before["intent"]["name"], before["text"] == edited) == ("greeting", False)
    body = {"title": "Hello", "replies": [edited], "related_articles": False}
    saved = httpx.put(
        f"{cluster.b.http}/api/content/responses/greeting",
        json=body,
        headers={"cookie": operator_on_b.cookie, "X-CSRF-Token": operator_on_b.csrf},
        timeout=60,
    )
    assert saved.status_code == 200, saved.text
    saved_at = time.monotonic()
    while asyncio.run(greeting_on_a())["text"] != edited:
        assert time.monotonic() - saved_at < POLL_SECONDS + 30, "A still serves the old greeting"
        time.sleep(0.2)


def test_login_attempts_from_one_address_are_counted_across_processes(cluster: Cluster) -> None:
    servers = [cluster.a, cluster.b, cluster.c]
    headers = {"X-Forwarded-For": "198.51.100.7"}

    def attempt(server: Server, number: int) -> httpx.Response:
        body = {"username": f"nobody{number}", "password": "wrong"}
        return httpx.post(f"{server.http}/api/auth/login", json=body, headers=headers, timeout=30)

    # Each process alone would allow LOGINS_PER_MINUTE; together they allow that many in all.
    codes = [attempt(servers[number % 3], number).status_code for number in range(LOGINS_PER_MINUTE)]
    assert codes == [401] * LOGINS_PER_MINUTE
    refused = [attempt(server, 100 + index) for index, server in enumerate(servers)]
    assert [r.status_code for r in refused] == [429, 429, 429]
    assert {r.json()["code"] for r in refused} == {"too_many_logins"}


def test_a_conversations_message_limit_counts_its_messages_on_every_process(cluster: Cluster) -> None:
    async def scenario() -> list[str]:
        async with connect(cluster.a.chat) as on_a:
            await on_a.send(json.dumps({"type": "hello"}))
            token = (await next_frame(on_a, {"type": "welcome"}))["token"]
            async with connect(cluster.b.chat) as on_b, connect(cluster.c.chat) as on_c:
                for socket_ in (on_b, on_c):
                    await socket_.send(json.dumps({"type": "hello", "token": token}))
                    await next_frame(socket_, {"type": "welcome"})
                outcomes = []
                sockets = [on_a, on_b, on_c]
                for number in range(CONVERSATION_MESSAGES_PER_MINUTE + 3):
                    ws = sockets[number % 3]
                    await ws.send(
                        json.dumps({"type": "message", "client_id": uuid.uuid4().hex, "text": "hi"})
                    )
                    async with asyncio.timeout(EVENT_TIMEOUT_S):
                        while (frame := json.loads(await ws.recv()))["type"] not in ("ack", "error"):
                            pass
                    outcomes.append(frame["type"] if frame["type"] == "ack" else frame["code"])
                return outcomes

    # Each process alone would take the limit from each socket: together they take it once.
    outcomes = asyncio.run(scenario())
    assert outcomes == ["ack"] * CONVERSATION_MESSAGES_PER_MINUTE + ["rate_limited"] * 3


def replies_per_customer_message(database_url: str, conversation_id: str) -> list[int]:
    engine = create_engine(sqlalchemy_url(database_url))
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT (SELECT count(*) FROM messages AS r"
                    " WHERE r.reply_to_id = m.id AND r.role = 'bot') FROM messages AS m"
                    " WHERE m.role = 'user' AND m.conversation_id = :id ORDER BY m.seq"
                ),
                {"id": conversation_id},
            ).all()
    finally:
        engine.dispose()
    return [count for (count,) in rows]


def test_the_customer_of_a_killed_process_resumes_on_the_others_without_a_gap(cluster: Cluster) -> None:
    texts = [
        "where is my order?",
        "how do I return a jacket",
        "I forgot my password",
        "do you ship abroad?",
    ] * 3

    async def before_the_kill() -> tuple[str, str, int, list[int]]:
        async with connect(cluster.a.chat) as customer:
            await customer.send(json.dumps({"type": "hello"}))
            welcome = await next_frame(customer, {"type": "welcome"})
            await say(customer, "hello")
            first_reply = await next_frame(customer, {"type": "message", "role": "bot"})
            acked = []
            for text_ in texts:  # without waiting for the answers
                acked.append(await say(customer, text_))
            cluster.a.process.send_signal(signal.SIGKILL)  # the moment the last one is acknowledged
            return welcome["conversation_id"], welcome["token"], int(first_reply["seq"]), acked

    conversation, token, last_seen, acked = asyncio.run(before_the_kill())
    cluster.a.process.wait(timeout=30)
    owed = replies_per_customer_message(cluster.database_url, conversation)
    assert 0 in owed, "not vacuous: A died owing answers"

    async def resume(server: Server) -> list[dict[str, Any]]:
        """Reconnect after the last frame seen; collect messages until every ack is answered."""
        frames: list[dict[str, Any]] = []
        answered: set[int] = set()
        async with connect(server.chat) as customer:
            await customer.send(json.dumps({"type": "hello", "token": token, "last_seq": last_seen}))
            async with asyncio.timeout(120):
                while not set(acked) <= answered:
                    frame = json.loads(await customer.recv())
                    if frame["type"] == "message":
                        frames.append(frame)
                        if frame["role"] == "bot":
                            answered.add(frame["reply_to"])
        return frames

    async def both_resume() -> list[list[dict[str, Any]]]:
        # Two sockets on two processes at once: the turn lock lets one answer each turn.
        return list(await asyncio.gather(resume(cluster.b), resume(cluster.c)))

    for frames in asyncio.run(both_resume()):
        seqs = [frame["seq"] for frame in frames]
        assert seqs == list(range(last_seen + 1, last_seen + 1 + len(seqs))), "a gap or a repeat"
        assert {frame["reply_to"] for frame in frames if frame["role"] == "bot"} >= set(acked)
    assert replies_per_customer_message(cluster.database_url, conversation) == [1] * (len(acked) + 1)


def test_workers_above_one_are_refused_on_sqlite(tmp_path: Path) -> None:
    env = {**os.environ, "BOT_DATABASE_URL": f"sqlite:///{tmp_path / 'bot.sqlite3'}"}
    command = [sys.executable, "-m", "bot.cli", "serve", "--workers", "2", "--port", str(free_port())]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: --workers 2 needs PostgreSQL (BOT_DATABASE_URL=postgresql://...): SQLite takes one "
        "server process; see README: Running several processes"
    ]
    assert not (tmp_path / "bot.sqlite3").exists()  # refused before anything was created


def test_workers_above_one_need_redis(postgres_url: str) -> None:
    env = {**os.environ, "BOT_DATABASE_URL": postgres_url}
    env.pop("BOT_REDIS_URL", None)
    command = [sys.executable, "-m", "bot.cli", "serve", "--workers", "3", "--port", str(free_port())]
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "Error: --workers 3 needs BOT_REDIS_URL (e.g. redis://127.0.0.1:6379/0): hand-off, the turn lock "
        "and the limits are shared through Redis; see README: Running several processes"
    ]

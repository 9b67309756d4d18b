"""`kill -9` under load: every acknowledged customer message still ends with exactly one answer.

A real `bot serve` (the shipped adapter, SQLite with the default synchronous=FULL) takes
concurrent conversations, is killed with SIGKILL right after its last acknowledgement, and is
started again on the same database. The customers reconnect with their tokens and send nothing
but ``hello``: the server itself answers what it acknowledged before it died.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bot.config import PROJECT_ROOT
from tests.test_startup import START_TIMEOUT_S, free_port, healthy

CONVERSATIONS = 16
MESSAGES_EACH = 6
TEXTS = ["where is my order?", "how do I return a jacket", "I forgot my password", "do you ship abroad?"]


@contextmanager
def bot_serve(database: Path, state_dir: Path, port: int) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        **os.environ,
        "BOT_DATABASE_URL": f"sqlite:///{database}",
        "BOT_STATE_DIR": str(state_dir),
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # This test is about crashes, not abuse: every customer comes from 127.0.0.1 at once.
        "BOT_CHAT_NEW_CONVERSATIONS_PER_IP_PER_HOUR": "1000",
        "BOT_CHAT_SOCKETS_PER_IP": "1000",
    }
    command = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--log-level", "warning"]
    process = subprocess.Popen(command, cwd=PROJECT_ROOT, env=env)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while not healthy(port):
            assert process.poll() is None, f"the server exited with {process.returncode}"
            assert time.monotonic() < deadline, "the server did not become healthy"
            time.sleep(0.2)
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            process.wait(timeout=60)


async def frames_until(ws: ClientConnection, wanted: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame["type"] == wanted:
            return frame
        assert frame["type"] != "error", frame


async def customer_before_the_crash(url: str, number: int, acked: list[int]) -> str:
    """Send messages without waiting for replies; note each acknowledged seq; return the token."""
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "hello"}))
        token = str((await frames_until(ws, "welcome"))["token"])
        for index in range(MESSAGES_EACH):
            text = TEXTS[(number + index) % len(TEXTS)]
            await ws.send(json.dumps({"type": "message", "client_id": f"c{number}-{index}", "text": text}))
            acked.append(int((await frames_until(ws, "ack"))["seq"]))
        return token


async def load_then_kill(url: str, server: subprocess.Popen[bytes]) -> list[tuple[str, list[int]]]:
    acked: list[list[int]] = [[] for _ in range(CONVERSATIONS)]
    tokens = await asyncio.gather(
        *(customer_before_the_crash(url, number, acked[number]) for number in range(CONVERSATIONS))
    )
    server.send_signal(signal.SIGKILL)  # the moment the last message is acknowledged
    server.wait(timeout=30)
    return list(zip(tokens, acked, strict=True))


async def customer_after_the_restart(url: str, token: str, acked: list[int]) -> dict[int, int]:
    """Resume with ``hello`` only; collect bot replies until every acknowledged seq has one."""
    answers: dict[int, int] = {}
    async with connect(url) as ws:
        await ws.send(json.dumps({"type": "hello", "token": token, "last_seq": 0}))
        async with asyncio.timeout(120):
            while not set(acked) <= set(answers):
                frame = json.loads(await ws.recv())
                if frame["type"] == "message" and frame["role"] == "bot":
                    assert frame["reply_to"] not in answers or answers[frame["reply_to"]] == frame["seq"]
                    answers[frame["reply_to"]] = frame["seq"]
    return answers


def replies_per_customer_message(database: Path) -> list[int]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT (SELECT count(*) FROM messages AS r WHERE r.reply_to_id = m.id AND r.role = 'bot') "
            "FROM messages AS m WHERE m.role = 'user'"
        ).fetchall()
    return [count for (count,) in rows]


def test_a_killed_server_answers_every_acknowledged_message_exactly_once_after_restart(
    tmp_path: Path, state_dir: Path
) -> None:
    database = tmp_path / "bot.sqlite3"
    port = free_port()
    url = f"ws://127.0.0.1:{port}/ws/chat"
    with bot_serve(database, state_dir, port) as server:
        conversations = asyncio.run(load_then_kill(url, server))
    acknowledged = sum(len(acked) for _, acked in conversations)
    assert acknowledged == CONVERSATIONS * MESSAGES_EACH
    before = replies_per_customer_message(database)
    assert len(before) == acknowledged, "an acknowledged message was not stored"
    # Not vacuous: the kill left acknowledged messages without an answer.
    assert before.count(0) > 0, before

    with bot_serve(database, state_dir, port):

        async def everyone_resumes() -> list[dict[int, int]]:
            return await asyncio.gather(
                *(customer_after_the_restart(url, token, acked) for token, acked in conversations)
            )

        answers = asyncio.run(everyone_resumes())
    for (_, acked), answered in zip(conversations, answers, strict=True):
        assert set(acked) <= set(answered)
    assert replies_per_customer_message(database) == [1] * acknowledged

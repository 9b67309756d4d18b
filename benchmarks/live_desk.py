"""The live desk's list at scale: how long ``GET /api/live`` takes with many live conversations.

    python benchmarks/live_desk.py [--conversations 500] [--messages 20] [--repeat 5]
        [--postgres postgresql://postgres@127.0.0.1:5432/postgres]

Every console asks for the list when a live conversation gets a message or changes state, so
its cost times the number of consoles is what a busy desk pays. Seeds ``--conversations`` live
conversations (two thirds waiting, one third held by an agent), each with ``--messages``
messages, on a fresh SQLite file and, with ``--postgres``, in a database of its own
(``live_desk_bench``, created and emptied here, never the tests' one); then times the work
behind the route (the live conversations, their summaries, the desk fields, the JSON) and prints
the first run and the best and median of ``--repeat``. The target is 100 ms for 500 live
conversations.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import cpu_model, package_versions  # noqa: E402
from bot.config import sqlalchemy_url  # noqa: E402
from bot.db import review  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.models import Conversation, Message, StaffUser  # noqa: E402
from bot.db.session import create_db_engine, create_session_factory  # noqa: E402
from bot.staff import handoff, inbox  # noqa: E402

TARGET_MS = 100.0
BENCH_DATABASE = "live_desk_bench"


def seed(factory: sessionmaker[Session], conversations: int, messages: int) -> None:
    now = dt.datetime.now(dt.UTC)
    with factory() as session:
        agent = StaffUser(username="ann", display_name="Ann", role="agent", password_hash="x")
        session.add(agent)
        session.flush()
        rows, lines = [], []
        for n in range(conversations):
            cid = str(uuid.uuid4())
            held = n % 3 == 0
            rows.append(
                {
                    "id": cid,
                    "token_hash": uuid.uuid4().hex + uuid.uuid4().hex,
                    "last_seq": messages,
                    "status": "agent" if held else "waiting",
                    "assigned_to_id": agent.id if held else None,
                    "created_at": now,
                    "updated_at": now,
                    "customer_id": str(uuid.uuid4()),
                    "customer_context": {"language": "en-GB"},
                }
            )
            for seq in range(1, messages + 1):
                role = "user" if seq % 2 else ("agent" if held and seq > messages - 4 else "bot")
                lines.append(
                    {
                        "conversation_id": cid,
                        "seq": seq,
                        "role": role,
                        "text": f"message {seq} of a customer chat about a parcel",
                        "payload": {},
                        "created_at": now - dt.timedelta(seconds=messages - seq),
                    }
                )
        session.execute(insert(Conversation), rows)
        session.execute(insert(Message), lines)
        session.commit()


def live_list(factory: sessionmaker[Session]) -> str:
    """What ``GET /api/live`` does (bot/api/handoff.py), without HTTP."""
    with factory() as session:
        conversations = handoff.live_conversations(factory)
        extra = inbox.desk_fields(session, conversations)
        items = review.summaries(session, conversations)
        return json.dumps([{**item.model_dump(mode="json"), **extra[item.id]} for item in items])


def measure(label: str, url: str, conversations: int, messages: int, repeat: int) -> None:
    upgrade(url)
    engine = create_db_engine(url)
    factory = create_session_factory(engine)
    seed(factory, conversations, messages)
    timings = []
    for _ in range(repeat + 1):
        started = time.perf_counter()
        body = live_list(factory)
        timings.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    first, rest = timings[0], timings[1:]
    verdict = "meets" if min(rest) <= TARGET_MS else "misses"
    print(
        f"{label}: {conversations} live conversations x {messages} messages, {len(body) / 1024:.0f} KiB: "
        f"first {first:.0f} ms, best {min(rest):.0f} ms, median {statistics.median(rest):.0f} ms "
        f"({verdict} the {TARGET_MS:.0f} ms target)"
    )


def fresh_postgres(server: str) -> str:
    admin = create_engine(sqlalchemy_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {BENCH_DATABASE}"))
    admin.dispose()
    return make_url(server).set(database=BENCH_DATABASE).render_as_string(hide_password=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conversations", type=int, default=500)
    parser.add_argument("--messages", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--postgres", default=None, help="a server URL; its database is left alone")
    args = parser.parse_args()
    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; python {platform.python_version()}")
    print(
        ", ".join(
            f"{name} {version}" for name, version in package_versions(("sqlalchemy", "psycopg")).items()
        )
    )
    print(f"load average (1 min) before the run: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as folder:
        sqlite = f"sqlite:///{folder}/bench.sqlite3"
        measure("SQLite", sqlite, args.conversations, args.messages, args.repeat)
    if args.postgres:
        measure("PostgreSQL", fresh_postgres(args.postgres), args.conversations, args.messages, args.repeat)


if __name__ == "__main__":
    main()

"""Analytics at scale: seed PostgreSQL with 1,000,000 messages, then time every analytics request.

    python benchmarks/analytics_seed.py [--server postgresql://postgres@127.0.0.1:5432/postgres]
        [--database analytics_bench] [--conversations 125000] [--days 90] [--repeat 3] [--json out.json]

The data go into a database of their own (created, or emptied with --fresh), never the one the
tests use. Rows are generated inside PostgreSQL (``generate_series``), so seeding a million
messages takes seconds: each conversation has four customer turns and four bot replies, over
``--days`` days; adapter version ``bench/v1`` serves the first half of the range and
``bench/v2`` (promoted then) the second. About 70 % of replies answer, 10 % ask back (40 % of
those get a suggestion click), 14 % fall back, 3 % hand off; 5 % of replies get a thumb, 20 %
of conversations a CSAT rating.

First the daily roll-ups (``bot/insights/rollup.py``) are dropped and built again, timed: what
a first start does once in the background. Then each request is the library call behind the
route plus its JSON serialisation, timed over the whole range: summary for all adapters and for
one, the timeseries per day and per week, for all and for one, and the business actions'
report; last, a summary right after a thumb on a reply 30 days back (a third of ``--days`` if
shorter), which that request rebuilds the day for. About 6 % of replies call a business action.
Printed: the first run (cold caches) and the best and median of ``--repeat`` runs. The target
is 500 ms per request.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._harness import cpu_model, package_versions  # noqa: E402
from bot.config import sqlalchemy_url  # noqa: E402
from bot.db.migrate import upgrade  # noqa: E402
from bot.db.session import create_db_engine, create_session_factory  # noqa: E402
from bot.insights import analytics, rollup  # noqa: E402
from bot.insights.action_figures import action_report  # noqa: E402

TARGET_MS = 500.0
INTENTS = [
    "track_order", "cancel_order", "change_order", "refund_status", "return_item", "delivery_time",
    "payment_methods", "payment_failed", "gift_card", "promo_code", "login_problem", "create_account",
    "shipping_options", "damaged_item", "missing_item", "invoice_request", "size_guide", "greeting",
]  # fmt: skip

SEED = """
CREATE TEMP TABLE bench_conversations AS
SELECT
    i,
    md5('c' || i)::uuid::text AS id,
    TIMESTAMPTZ :start + (:days * 86400.0 * (i - 1) / :n) * INTERVAL '1 second' AS created_at,
    random() AS fate
FROM generate_series(1, :n) AS i;

INSERT INTO conversations (id, token_hash, last_seq, status, created_at, updated_at, first_adapter)
SELECT id, md5('t' || i) || md5('u' || i), 8,
       CASE WHEN fate < 0.03 THEN 'waiting' WHEN fate < 0.05 THEN 'agent' WHEN fate < 0.25 THEN 'closed'
            ELSE 'bot' END,
       created_at, created_at + INTERVAL '8 minutes',
       CASE WHEN created_at < TIMESTAMPTZ :start + :days * INTERVAL '12 hours' THEN 'bench/v1'
            ELSE 'bench/v2' END
FROM bench_conversations;

CREATE TEMP TABLE bench_turns AS
SELECT c.i, c.id AS conversation_id, t,
       (c.i - 1) * 8 + 2 * t - 1 AS user_id, (c.i - 1) * 8 + 2 * t AS bot_id,
       c.created_at + (2 * t - 2) * INTERVAL '1 minute' AS asked_at,
       random() AS roll, random() AS confidence, (30 + 600 * random() ^ 3)::int AS ms,
       (floor(random() * :intents))::int AS intent_index,
       CASE WHEN c.created_at < TIMESTAMPTZ :start + :days * INTERVAL '12 hours' THEN 'bench/v1'
            ELSE 'bench/v2' END AS adapter
FROM bench_conversations c, generate_series(1, 4) AS t;

INSERT INTO messages (id, conversation_id, seq, role, text, client_id, payload, created_at)
SELECT user_id, conversation_id, 2 * t - 1, 'user', 'customer question number ' || user_id, 'b' || user_id,
       '{}', asked_at
FROM bench_turns;

INSERT INTO messages (id, conversation_id, seq, role, text, reply_to_id, payload, created_at,
                      reply_action, reply_intent, reply_confidence, reply_adapter, reply_ms,
                      action_name, action_outcome, action_ms)
SELECT bot_id, conversation_id, 2 * t, 'bot', 'a reply', user_id,
       json_build_object('action', action, 'intent', CASE WHEN intent IS NULL THEN NULL
                         ELSE json_build_object('name', intent, 'confidence', conf) END,
                         'suggestions', '[]'::json, 'sources', '[]'::json),
       asked_at + ms * INTERVAL '1 millisecond', action, intent, conf, adapter, ms,
       CASE WHEN calls THEN (ARRAY['order_status', 'return_label'])[1 + intent_index % 2] END,
       CASE WHEN calls THEN CASE WHEN confidence < 0.85 THEN 'ok' WHEN confidence < 0.95 THEN 'not_found'
                                 ELSE 'failed' END END,
       CASE WHEN calls THEN (20 + 300 * random())::int END
FROM (
    SELECT *,
           CASE WHEN roll < 0.70 THEN 'answer' WHEN roll < 0.80 THEN 'clarify'
                WHEN roll < 0.88 THEN 'knowledge' WHEN roll < 0.94 THEN 'offer_human'
                WHEN roll < 0.97 THEN 'handoff' ELSE 'answer' END AS action,
           CASE WHEN roll < 0.80 OR roll >= 0.97 THEN (ARRAY[:intent_names])[intent_index + 1]
                WHEN roll >= 0.94 THEN 'human_agent' END AS intent,
           CASE WHEN roll < 0.70 OR roll >= 0.97 THEN 0.7 + 0.3 * confidence
                WHEN roll < 0.80 THEN 0.4 + 0.3 * confidence ELSE 0.4 * confidence END AS conf,
           roll < 0.70 AND random() < 0.08 AS calls
    FROM bench_turns
) AS decided;

INSERT INTO predictions (message_id, intent, confidence, top_k, out_of_scope, adapter_version, latency_ms,
                         shadow, created_at)
SELECT reply_to_id, coalesce(reply_intent, 'greeting'), reply_confidence, '[]', reply_action IN
       ('knowledge', 'offer_human'), reply_adapter, 5.0, false, created_at
FROM messages WHERE role = 'bot';

INSERT INTO labels (message_id, intent, source, created_at)
SELECT reply_to_id, reply_intent, 'suggestion_click', created_at + INTERVAL '5 seconds'
FROM messages WHERE role = 'bot' AND reply_action = 'clarify' AND random() < 0.4;

INSERT INTO feedback (message_id, rating, created_at)
SELECT id, CASE WHEN random() < 0.7 THEN 'up' ELSE 'down' END, created_at + INTERVAL '10 seconds'
FROM messages WHERE role = 'bot' AND random() < 0.05;

INSERT INTO csat_ratings (conversation_id, rating, comment, created_at)
SELECT id, 1 + floor(random() * 5)::int, '', created_at + INTERVAL '9 minutes'
FROM bench_conversations WHERE random() < 0.2;

SELECT setval(pg_get_serial_sequence('messages', 'id'), (SELECT max(id) FROM messages));
"""


def prepare_database(server: str, name: str, fresh: bool) -> str:
    admin = create_engine(sqlalchemy_url(server), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        exists = connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
        if exists and fresh:
            connection.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False)


def seed(url: str, conversations: int, days: int) -> tuple[int, float]:
    engine = create_db_engine(url)
    start = time.perf_counter()
    with engine.begin() as connection:
        if connection.scalar(text("SELECT count(*) FROM messages")):
            count = int(connection.scalar(text("SELECT count(*) FROM messages")) or 0)
            print(f"already seeded: {count} messages (use --fresh to seed again)")
            return count, 0.0
        first_day = connection.scalar(
            text("SELECT date_trunc('day', now()) - make_interval(days => :d)"), {"d": days}
        )
        parameters = {
            "start": first_day,
            "days": days,
            "n": conversations,
            "intents": len(INTENTS),
        }
        for statement in SEED.split(";\n"):
            if statement.strip():
                sql = statement.replace(":intent_names", ", ".join(f"'{name}'" for name in INTENTS))
                sql = sql.replace("TIMESTAMPTZ :start", "CAST(:start AS timestamptz)")
                bound = {k: v for k, v in parameters.items() if f":{k}" in sql}
                connection.execute(text(sql), bound)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
        count = int(connection.scalar(text("SELECT count(*) FROM messages")) or 0)
    engine.dispose()
    return count, time.perf_counter() - start


def time_requests(url: str, days: int, repeat: int) -> tuple[float, list[dict[str, object]]]:
    """Build the roll-ups from nothing (timed), then time each request, then a request after a
    late write to an old day (which that request rebuilds)."""
    engine = create_db_engine(url)
    factory = create_session_factory(engine)
    with engine.begin() as connection:
        last = connection.scalar(text("SELECT max(created_at)::date FROM messages"))
        for table in ("analytics_latency_days", "analytics_turn_days", "analytics_conversation_days"):
            connection.execute(text(f"DELETE FROM {table}"))
        connection.execute(text("DELETE FROM analytics_days"))
    first = last - dt.timedelta(days=days - 1)
    started = time.perf_counter()
    built = rollup.refresh(factory, first, last, dt.datetime.now(dt.UTC))
    build_ms = (time.perf_counter() - started) * 1000
    print(
        f"built the roll-ups of {built} days in {build_ms / 1000:.1f} s"
        " (once; after that the app's refresh keeps them)"
    )
    everything, v2 = analytics.Scope(first, last), analytics.Scope(first, last, "bench/v2")
    requests: dict[str, Callable[[], BaseModel]] = {
        "summary, all adapters": lambda: analytics.summary(factory, everything),
        "summary, bench/v2": lambda: analytics.summary(factory, v2),
        "timeseries per day, all": lambda: analytics.timeseries(factory, everything, analytics.Interval.day),
        "timeseries per week, all": lambda: analytics.timeseries(
            factory, everything, analytics.Interval.week
        ),
        "timeseries per day, bench/v2": lambda: analytics.timeseries(factory, v2, analytics.Interval.day),
        "business actions, all": lambda: action_report(factory, everything),
    }
    rows = [_timed(name, request, repeat) for name, request in requests.items()]

    def late_thumb() -> None:
        with engine.begin() as connection:
            connection.execute(text(LATE_THUMB), {"day": last - dt.timedelta(days=back)})

    back = min(30, days // 3)
    summary_all = requests["summary, all adapters"]
    after = _timed(f"summary after a late thumb {back} days back", summary_all, repeat, late_thumb)
    rows.append(after)
    engine.dispose()
    return build_ms, rows


# A thumb today on a reply of an old day: the trigger marks that day, the next request rebuilds it.
LATE_THUMB = """
INSERT INTO feedback (message_id, rating, created_at)
SELECT id, 'down', now() FROM messages WHERE role = 'bot'
  AND created_at >= CAST(:day AS date) AND created_at < CAST(:day AS date) + 1
ORDER BY created_at LIMIT 1
"""


def _timed(
    name: str, request: Callable[[], BaseModel], repeat: int, before: Callable[[], None] | None = None
) -> dict[str, object]:
    """``before`` runs ahead of each timed request, untimed."""
    times = []
    for _ in range(repeat + 1):
        if before is not None:
            before()
        started = time.perf_counter()
        request().model_dump_json()
        times.append((time.perf_counter() - started) * 1000)
    warm = times[1:]
    return {
        "request": name,
        "first_ms": round(times[0], 1),
        "best_ms": round(min(warm), 1),
        "median_ms": round(statistics.median(warm), 1),
        "within_target": max(times) <= TARGET_MS,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--database", default="analytics_bench")
    parser.add_argument("--conversations", type=int, default=125_000, help="8 messages each")
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--fresh", action="store_true", help="drop and seed the database again")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args()
    if args.database in ("test", "postgres"):
        raise SystemExit("pick a database of the benchmark's own, not one that tests or the server use")
    url = prepare_database(args.server, args.database, args.fresh)
    upgrade(url)
    count, seconds = seed(url, args.conversations, args.days)
    engine = create_db_engine(url)
    with engine.connect() as connection:
        version = connection.scalar(text("SHOW server_version"))
    engine.dispose()
    import os

    print(f"machine: {cpu_model()}, {os.cpu_count()} cores; load (1 min) {os.getloadavg()[0]:.2f}")
    print(
        f"PostgreSQL {version}; "
        + ", ".join(f"{k} {v}" for k, v in package_versions(("sqlalchemy", "psycopg")).items())
    )
    print(f"{count} messages" + (f", seeded in {seconds:.1f} s" if seconds else ""))
    build_ms, rows = time_requests(url, args.days, args.repeat)
    print(f"\n{args.days}-day range, target {TARGET_MS:.0f} ms per request")
    print(f"{'request':42} {'first':>9} {'best':>9} {'median':>9}")
    for row in rows:
        mark = "" if row["within_target"] else "  OVER TARGET"
        times = f"{row['first_ms']:>7} ms {row['best_ms']:>7} ms {row['median_ms']:>7} ms"
        print(f"{row['request']:42} {times}{mark}")
    if args.json is not None:
        results = {"messages": count, "days": args.days, "rollup_build_ms": round(build_ms), "requests": rows}
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()

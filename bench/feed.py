"""The event feed (DESIGN §9): catching up with a backlog, and commit-to-delivery latency.

feed_catchup_events_per_s: a backlog of `backlog` events (written in one go by SQL, with the
payload of a real command's event), given positions by the sequencer (timed apart), then read
through the maintenance feed in batches of 1,000; beside it, a raw SELECT of the same rows
(no feed, no join, one cursor). feed_catchup_ratio = feed ÷ raw, in the same run (the best
of three interleaved rounds of each). Then a VACUUM, so that the bulk load's autovacuum does
not run during the latency phase.

feed_latency_p99_ms: `writers` processes run commands for `seconds`; a consumer (this process)
follows the feed woken by LISTEN/NOTIFY (its polling fallback set to 1 s, so that polling
cannot hide a missed wake-up); latency is the wall clock at delivery minus the wall clock when
the writer's `handle` returned (an event delivered before that counts as 0).
"""

from __future__ import annotations

import multiprocessing
import threading
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import psycopg

from bench.timing import percentile, ratio
from bench.writers import CommandWriter
from scripts_es import ScriptsModule

SEED = """
INSERT INTO scripts_es.events
    (tenant_id, originator_id, originator_version, topic, state, occurred_at)
SELECT ('00000000-0000-0000-0000-' || lpad((n %% 100)::text, 12, '0'))::uuid,
       ('00000000-0000-0000-0001-' || lpad((n %% 2000)::text, 12, '0'))::uuid,
       n / 2000 + 1, %(topic)s, %(state)s, now()
FROM generate_series(0, %(count)s - 1) AS n"""
ROUNDS = 3
RAW = """
SELECT tenant_id, originator_id, originator_version, topic, state FROM scripts_es.events
ORDER BY txid, notification_id"""


def catchup(module: ScriptsModule, dsn: str, backlog: int) -> dict[str, Any]:
    probe = CommandWriter(module, uuid.uuid4(), uuid.uuid4())
    probe.step()
    with psycopg.connect(dsn) as conn:
        topic, state = conn.execute(
            "SELECT topic, state FROM scripts_es.events WHERE originator_id = %s "
            "ORDER BY originator_version DESC LIMIT 1",
            (probe.script_id,),
        ).fetchone() or ("", b"")
        conn.execute(SEED, {"topic": topic, "state": state, "count": backlog})
        conn.commit()
        conn.execute("ANALYZE scripts_es.events")
        conn.commit()
    feed = module.feed()
    started = time.perf_counter()
    last = feed.sequence()
    sequence_seconds = time.perf_counter() - started

    raw_seconds, feed_seconds = float("inf"), float("inf")
    for _ in range(ROUNDS):  # interleaved, best of each: the machine's load varies
        started = time.perf_counter()
        with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
            cursor.execute(RAW)
            raw_rows = 0
            while rows := cursor.fetchmany(1000):
                raw_rows += len(rows)
        raw_seconds = min(raw_seconds, time.perf_counter() - started)

        started = time.perf_counter()
        reader = module.feed()
        after = read = 0
        while events := reader.read(after, 1000):
            read += len(events)
            after = events[-1].position
        feed_seconds = min(feed_seconds, time.perf_counter() - started)
        assert after == last and read == raw_rows, (after, last, read, raw_rows)
    with psycopg.connect(dsn, autocommit=True) as conn:  # not the latency phase's business
        conn.execute("VACUUM (ANALYZE) scripts_es.events, scripts_es.feed")
    return {
        "feed_catchup_events_per_s": round(read / feed_seconds, 1),
        "feed_catchup_ratio": ratio(raw_seconds, feed_seconds),
        "feed_catchup": {
            "events": read,
            "feed_seconds": round(feed_seconds, 3),
            "raw_select_seconds": round(raw_seconds, 3),
            "raw_select_rows_per_s": round(raw_rows / raw_seconds, 1),
            "sequence_seconds": round(sequence_seconds, 3),
            "sequence_events_per_s": round(read / sequence_seconds, 1),
        },
    }


def write_for(dsn: str, seconds: float) -> list[tuple[uuid.UUID, int, float]]:
    """One writer process: commands on one script for `seconds`; (stream, version, the wall
    clock when `handle` returned) of each."""
    done: list[tuple[uuid.UUID, int, float]] = []
    with ScriptsModule.open(dsn, install=False) as module:
        w = CommandWriter(module, uuid.uuid4(), uuid.uuid4())
        until = time.monotonic() + seconds
        while time.monotonic() < until:
            w.step()
            done.append((w.script_id, w.n + 1, time.time()))  # version: created + n
    return done


def latency(module: ScriptsModule, dsn: str, *, writers: int, seconds: float) -> dict[str, Any]:
    feed = module.feed()
    start = feed.sequence()
    delivered: dict[tuple[uuid.UUID, int], float] = {}
    stop_following = threading.Event()

    def follow() -> None:
        for event in feed.follow(start, stop=stop_following, poll_interval=1.0):
            delivered[(event.originator_id, event.originator_version)] = time.time()

    follower = threading.Thread(target=follow)
    follower.start()
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(writers, mp_context=spawn) as pool:
        futures = [pool.submit(write_for, dsn, seconds) for _ in range(writers)]
        committed = {(s, v): at for f in futures for s, v, at in f.result()}
    deadline = time.monotonic() + 30
    while any(key not in delivered for key in committed) and time.monotonic() < deadline:
        time.sleep(0.05)
    stop_following.set()
    follower.join()
    latencies = [max(0.0, delivered[k] - at) for k, at in committed.items() if k in delivered]
    early = sum(1 for k, at in committed.items() if k in delivered and delivered[k] < at)
    return {
        "feed_latency_p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "feed_latency": {
            "writers": writers,
            "events": len(committed),
            "delivered": sum(1 for k in committed if k in delivered),
            "p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "p95_ms": round(percentile(latencies, 95) * 1000, 2),
            "max_ms": round(max(latencies, default=0.0) * 1000, 2),
            "delivered_before_handle_returned": early,
        },
    }

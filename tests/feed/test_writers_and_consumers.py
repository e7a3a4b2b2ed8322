"""Writers that commit late, a consumer following the feed: every committed event exactly once,
in each stream's order; also when the consumer is SIGKILLed and resumes from its tracking."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from typing import Any

import psycopg
import pytest

from scripts_es.store.database import Database
from scripts_es.store.feed import Feed
from tests.support.pg import ROOT

WRITERS = 4
WRITES_PER_WRITER = 25


def writer(dsn: str, seed: int, committed: list[tuple[uuid.UUID, int]]) -> None:
    """Appends to a few streams of its own as scripts_es_app; holds each transaction open a
    random while before it commits (or, one time in eight, rolls back)."""
    rng = random.Random(seed)
    tenant = uuid.uuid4()
    streams = {uuid.uuid4(): 0 for _ in range(3)}
    with psycopg.connect(dsn) as conn:
        conn.execute("SET ROLE scripts_es_app")
        conn.commit()
        for _ in range(WRITES_PER_WRITER):
            stream = rng.choice(list(streams))
            count = rng.randint(1, 3)
            versions = [streams[stream] + n + 1 for n in range(count)]
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
            for version in versions:
                conn.execute(
                    "INSERT INTO scripts_es.events (tenant_id, originator_id, originator_version,"
                    " topic, state, occurred_at) VALUES (%s, %s, %s, 't', '\\x7b7d', now())",
                    (tenant, stream, version),
                )
                time.sleep(rng.random() * 0.004)
            time.sleep(rng.random() * 0.02)  # commit late: others commit meanwhile
            if rng.random() < 0.125:
                conn.rollback()
                continue
            conn.commit()
            streams[stream] = versions[-1]
            committed.extend((stream, v) for v in versions)


def run_writers(dsn: str, seed: int) -> list[tuple[uuid.UUID, int]]:
    committed: list[tuple[uuid.UUID, int]] = []
    threads = [
        threading.Thread(target=writer, args=(dsn, seed * 100 + n, committed))
        for n in range(WRITERS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return committed


def assert_exactly_once_in_stream_order(
    seen: list[tuple[int, uuid.UUID, int]], committed: list[tuple[uuid.UUID, int]]
) -> None:
    keys = [(stream, version) for _, stream, version in seen]
    duplicates = [key for key, n in Counter(keys).items() if n > 1]
    assert duplicates == []
    assert set(keys) == set(committed)
    positions = [position for position, _, _ in seen]
    assert positions == sorted(positions)
    last: dict[uuid.UUID, int] = {}
    for _, stream, version in seen:
        assert version == last.get(stream, 0) + 1, "a stream's events out of order or missing"
        last[stream] = version


@pytest.mark.parametrize("seed", [1, 2])
def test_a_following_consumer_sees_every_committed_event_once_in_stream_order(
    dsn: str, seed: int
) -> None:
    database = Database(dsn)
    database.open()
    feed = Feed(database)
    seen: list[tuple[int, uuid.UUID, int]] = []
    stop = threading.Event()

    def consume() -> None:
        for event in feed.follow(0, stop=stop, batch=7, poll_interval=0.01):
            seen.append((event.position, event.originator_id, event.originator_version))

    consumer = threading.Thread(target=consume)
    consumer.start()
    try:
        committed = run_writers(dsn, seed)
        deadline = time.monotonic() + 60  # another test may hold the horizon meanwhile
        while len(seen) < len(committed) and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        stop.set()
        consumer.join()
        database.close()
    assert_exactly_once_in_stream_order(seen, committed)
    assert [p for p, _, _ in seen] == list(range(1, len(seen) + 1))  # dense


CONSUMER = """
import sys, uuid
import psycopg
from scripts_es.store.database import Database
from scripts_es.store.feed import Feed

dsn = sys.argv[1]
database = Database(dsn)
database.open()
feed = Feed(database)
with psycopg.connect(dsn, autocommit=True) as conn:
    row = conn.execute(
        "SELECT notification_id FROM scripts_es.feed_tracking WHERE application_name = 'seen'"
    ).fetchone()
    after = row[0] if row else 0
    print("ready", flush=True)
    while True:
        for event in feed.read(after, 3):
            with conn.transaction():  # the view's row and the position: one transaction
                conn.execute(
                    "INSERT INTO seen VALUES (%s, %s, %s)",
                    (event.position, event.originator_id, event.originator_version),
                )
                conn.execute(
                    "INSERT INTO scripts_es.feed_tracking (application_name, notification_id) "
                    "VALUES ('seen', %s) ON CONFLICT (application_name) DO UPDATE "
                    "SET notification_id = excluded.notification_id",
                    (event.position,),
                )
            after = event.position
"""


def start_consumer(dsn: str) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path])}
    child = subprocess.Popen(
        [sys.executable, "-c", CONSUMER, dsn],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        pytest.fail(f"consumer did not start: {child.communicate()[1]}")
    return child


def test_a_sigkilled_consumer_resumes_with_nothing_missed_or_seen_twice(dsn: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE seen (position bigint, stream uuid, version bigint)")
    rng = random.Random(7)
    committed: list[tuple[uuid.UUID, int]] = []
    writers = threading.Thread(target=lambda: committed.extend(run_writers(dsn, 3)))
    writers.start()
    kills = 0
    child = start_consumer(dsn)
    try:
        while writers.is_alive() or kills < 3:
            time.sleep(rng.random() * 0.3)
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            child = start_consumer(dsn)
        writers.join()
        deadline = time.monotonic() + 60  # another test may hold the horizon meanwhile
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as conn:
                done: Any = conn.execute("SELECT count(*) FROM seen").fetchone()
            if done and done[0] >= len(committed):
                break
            time.sleep(0.05)
    finally:
        child.kill()
        errors = child.communicate()[1]
    with psycopg.connect(dsn) as conn:
        seen = [
            (int(p), s, int(v))
            for p, s, v in conn.execute("SELECT * FROM seen ORDER BY position").fetchall()
        ]
    assert kills >= 3, errors
    assert_exactly_once_in_stream_order(seen, committed)

"""The out-of-process projection runner: follows the event feed into the read model, exactly once.

It is one consumer of the feed (scripts_es.store.feed, DESIGN §9), not a second mechanism: a
sequencing pass first, then each batch is one transaction: lock the tracking row (one runner at
a time), read the next feed positions, write the rows of the streams they touch, advance the
position.
A crash anywhere rolls the whole batch back; the rows are version-guarded upserts as well, so even
the inline projection and the runner applying the same event leave one result.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from itertools import groupby
from typing import Any

from eventsourcing.persistence import StoredEvent

from projections.streams import fold_for
from projections.tables import LIVE
from projections.writer import project
from scripts_es.domain import validation
from scripts_es.reports import ProjectionStatus, RunReport
from scripts_es.store.database import QUERIES as STORE_QUERIES
from scripts_es.store.database import Database
from scripts_es.store.event_store import EventStore
from scripts_es.store.feed import Feed
from scripts_es.store.sql import load, one

NAME = "read_model"
MAX_BATCH = 100_000  # events per batch: one transaction holds them all in memory
QUERIES = load("projections", "runner.sql")


def status(db: Database) -> list[ProjectionStatus]:
    """Position and lag of every tracked projection (the read model's runner), and what holds
    the feed back, if anything."""
    held = Feed(db).held_back()
    with db.maintenance() as conn:
        rows = conn.execute(QUERIES["status"]).fetchall()
        if not rows:
            lag = conn.execute(QUERIES["lag_untracked"]).fetchone()
            return [ProjectionStatus(NAME, 0, 0, int(lag[0] if lag else 0), None, 0, held)]
    return [
        ProjectionStatus(name, nid, txid, lag, at, position, held)
        for name, nid, txid, at, lag, position in rows
    ]


def run_batch(db: Database, store: EventStore, batch_size: int) -> int:
    """Project the next batch of feed positions; returns how many (0 when caught up)."""
    Feed(db).sequence()
    with db.maintenance() as conn:
        conn.execute(QUERIES["ensure_tracking"], {"name": NAME})
        tracked = conn.execute(QUERIES["lock_tracking"], {"name": NAME}).fetchone()
        assert tracked is not None
        txid, nid, position = tracked
        if position == 0 and nid > 0:  # tracked before the feed existed
            position = one(
                conn.execute(QUERIES["adopt_position"], {"txid": str(txid), "nid": nid})
            )[0]
        rows = conn.execute(
            QUERIES["next_events"], {"position": position, "limit": batch_size}
        ).fetchall()
        if not rows:
            return 0
        events = [row for row in rows if row[3] is not None]  # the others were pruned
        if events:
            project_streams(conn, store, events)
            txid, nid = events[-1][5], events[-1][6]
        conn.execute(
            QUERIES["save_tracking"],
            {"name": NAME, "txid": str(txid), "nid": nid, "position": rows[-1][7]},
        )
        return len(rows)


def project_streams(conn: Any, store: EventStore, events: list[Any], tables: Any = None) -> None:
    """Write the current rows of every stream `events` touch (rows: tenant, id, version, topic,
    state, ...), with version rows for those events.

    Without `tables` (the runner) the streams are held shared first, so prunes of them wait
    for this transaction (or finished before it loads them). With `tables` (the catch-up of
    rebuild and verify) the caller already holds the read-model tables, which no prune can
    commit without, and takes no stream lock: stream locks come before table locks on every
    path (schema.sql), so waiting for one here could close a circle with a writer.
    """
    key: Callable[[Any], tuple[Any, Any]] = lambda row: (row[0], row[1])  # noqa: E731
    if tables is None:
        conn.execute(STORE_QUERIES["share_streams"], {"ids": sorted({row[1] for row in events})})
    streams = []
    for (tenant_id, stream_id), group in groupby(sorted(events, key=key), key=key):
        stream = sorted(group, key=lambda row: row[2])
        loaded = store.load(conn, tenant_id, stream_id, fold_for(stream[0][3]))
        if loaded.state is None:  # the whole stream was pruned meanwhile
            continue
        horizon = loaded.horizon or 1
        decoded = [
            store.mapper.to_domain_event(StoredEvent(stream_id, v, topic, bytes(state)))
            for _, _, v, topic, state, *_ in stream
            if v >= horizon  # pruned since it was read: its version row must not come back
        ]
        streams.append((loaded.state, decoded))
    project(conn, streams, LIVE if tables is None else tables)


def _held_back(db: Database) -> bool:
    return Feed(db).held_back() is not None


def run(
    db: Database,
    store: EventStore,
    *,
    once: bool = False,
    batch_size: int = 500,
    poll_interval: float = 0.5,
    stop: threading.Event | None = None,
    progress: Callable[[int], None] | None = None,
    settle: float = 5.0,
) -> RunReport:
    """Follow the event store until `stop` is set (or, with `once`, until caught up).

    The feed's horizon is the oldest transaction in flight anywhere on the server, so a long
    write transaction (even in another database) holds newer events back; they are never
    skipped, and `status` names the backend that holds them.
    With `once`, such held-back events are waited for up to `settle` seconds.
    """
    validation.whole_number("batch_size", batch_size, 1, MAX_BATCH, "events per batch")
    total = batches = 0
    settle_until: float | None = None
    while stop is None or not stop.is_set():
        done = run_batch(db, store, batch_size)
        if done:
            total += done
            batches += 1
            settle_until = None
            if progress:
                progress(done)
            continue
        if once:
            if not _held_back(db):
                # The check's own sequencing pass may have positioned events just released
                # by the horizon: apply those before stopping.
                done = run_batch(db, store, batch_size)
                if not done:
                    break
                total += done
                batches += 1
                if progress:
                    progress(done)
                continue
            settle_until = settle_until or time.monotonic() + settle
            if time.monotonic() > settle_until:
                return RunReport(events=total, batches=batches, held_back=True)
        if stop is not None:
            stop.wait(poll_interval)
        else:
            time.sleep(poll_interval)
    return RunReport(events=total, batches=batches)

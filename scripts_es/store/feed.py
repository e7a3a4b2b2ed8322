"""The event feed (DESIGN §9): every event in commit order, as dense integer positions.

Writers take no global lock; a sequencing pass (`scripts_es.sequence_feed`, schema.sql) gives
positions after commit to whole transactions below the in-flight horizon, so an event that
commits late never lands behind a position a consumer has passed. Every read runs a pass first
(a no-op when nothing new is below the horizon). A tenant feed reads as scripts_es_app with
the tenant set, so row-level security, not the query, keeps other tenants' events out; the
maintenance feed (`tenant_id=None`) reads every tenant as scripts_es_maint.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent

from scripts_es.domain import validation
from scripts_es.domain.notices import EventPruned
from scripts_es.errors import FeedHeldBack
from scripts_es.reports import FeedConsumer, HeldBack
from scripts_es.store.database import Conn, Database, with_timeout
from scripts_es.store.errors import translated
from scripts_es.store.mapper import PydanticMapper, get_topic
from scripts_es.store.sql import load, one

QUERIES = load("scripts_es.store", "feed.sql")
PRUNED_TOPIC = get_topic(EventPruned)
CHANNEL = "scripts_es_feed"
SEQUENCE_BATCH = 50_000  # positions assigned per pass
NO_STOP = 2**62
MAX_READ = 100_000  # positions one read holds in memory
RETRY = 0.005  # seconds: the first look again after news the horizon held back
_MAPPER = PydanticMapper()


@dataclass(frozen=True)
class FeedEvent:
    """One position of the feed: the stored event (or an EventPruned notice) at it."""

    position: int
    tenant_id: UUID
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes

    @property
    def pruned(self) -> bool:
        return self.topic == PRUNED_TOPIC


class Feed:
    """Reads the feed of one tenant (`tenant_id`) or of every tenant (None: maintenance)."""

    def __init__(self, db: Database, tenant_id: UUID | None = None) -> None:
        self.db = db
        self.tenant_id = tenant_id
        self._sequenced = 0  # the feed's last position at this reader's latest pass

    @contextmanager
    def _transaction(self) -> Iterator[Conn]:
        if self.tenant_id is None:
            with self.db.maintenance() as conn:
                yield conn
        else:
            with self.db.tenant(self.tenant_id) as conn:
                yield conn

    def sequence(self) -> int:
        """Give positions to what is below the horizon; the feed's last position."""
        while True:
            with self._transaction() as conn:
                before = int(one(conn.execute(QUERIES["mark"]))[0])
                last = int(one(conn.execute(QUERIES["sequence"], _BATCH))[0])
            if last - before < SEQUENCE_BATCH:
                return last

    def read(
        self,
        after: int = 0,
        limit: int = 500,
        *,
        stop: int | None = None,
        topics: Sequence[str] = (),
    ) -> list[FeedEvent]:
        """Up to `limit` positions after `after` (and at most `stop`), in order."""
        validation.whole_number("after", after, 0, NO_STOP, "a feed position")
        validation.whole_number("limit", limit, 1, MAX_READ, "positions per read")
        params = {
            "after": after,
            "stop": NO_STOP if stop is None else stop,
            "limit": limit,
            "topics": list(topics),
            "pruned_topic": PRUNED_TOPIC,
        }
        query = QUERIES["read" if self.tenant_id is None else "read_tenant"]
        with self._transaction() as conn:
            # Positions are dense in the feed of every tenant: a backlog known to reach past
            # this batch fills it without a sequencing pass first.
            if self.tenant_id is not None or topics or after + limit > self._sequenced:
                self._sequenced = int(one(conn.execute(QUERIES["sequence"], _BATCH))[0])
            rows = conn.execute(query, params, prepare=True).fetchall()
        return [FeedEvent(p, t, o, v, topic, bytes(state)) for p, t, o, v, topic, state in rows]

    def decode(self, event: FeedEvent) -> Any:
        """The event as its pydantic class (an EventPruned notice for a pruned one)."""
        stored = StoredEvent(
            event.originator_id, event.originator_version, event.topic, event.state
        )
        return _MAPPER.to_domain_event(stored)

    def follow(
        self,
        after: int = 0,
        *,
        stop: threading.Event,
        batch: int = 500,
        poll_interval: float = 0.1,
    ) -> Iterator[FeedEvent]:
        """Every position after `after`, then new ones as they come, until `stop` is set.

        Wakes on LISTEN/NOTIFY (writers announce their commits, passes their positions);
        every `poll_interval` seconds it also runs a pass itself (writers that announce
        nothing, such as another program's, are still followed)."""
        announced, retry = False, RETRY
        with self.listening() as listener:
            while not stop.is_set():
                events = self.read(after, batch)
                for event in events:
                    yield event
                    after = event.position
                if len(events) == batch:
                    continue
                if events or not announced:
                    wait, retry = poll_interval, RETRY
                else:
                    # Announced, yet nothing new: a transaction that announces nothing (an
                    # ANALYZE, another program's write) holds it back. Look again soon, more
                    # slowly each time, not only at the next poll.
                    wait, retry = retry, min(retry * 2, poll_interval)
                news = listener.wait(wait, after)
                announced = news or (announced and not events and wait < poll_interval)

    def last_position(self) -> int | None:
        """The newest position this feed can see (None: no events yet)."""
        query = QUERIES["last_position" if self.tenant_id is None else "last_position_tenant"]
        with self._transaction() as conn:
            conn.execute(QUERIES["sequence"], _BATCH)
            value = one(conn.execute(query))[0]
        return None if value is None else int(value)

    def held_back(self) -> HeldBack | None:
        """What keeps committed events from the feed right now (None: nothing does)."""
        with self._transaction() as conn:
            conn.execute(QUERIES["sequence"], _BATCH)
            rows = conn.execute(QUERIES["held_back"]).fetchall()
        return held_back_report(rows)

    def positions_of(
        self, tenant_id: UUID, keys: Sequence[tuple[UUID, int]], *, timeout: float = 10.0
    ) -> list[int]:
        """The positions of events just committed (`keys`: stream id, version), once the
        horizon lets them in; FeedHeldBack (naming the holder) after `timeout` seconds."""
        params = {
            "tenant_id": tenant_id,
            "ids": [k[0] for k in keys],
            "versions": [k[1] for k in keys],
        }
        deadline = time.monotonic() + timeout
        pause = 0.001
        while True:
            with self.db.tenant(tenant_id) as conn:
                conn.execute(QUERIES["sequence"], _BATCH)
                found = [row[0] for row in conn.execute(QUERIES["positions_of"], params)]
            if len(found) == len(keys):
                return found
            if time.monotonic() > deadline:
                report = self.held_back()
                raise FeedHeldBack(
                    f"{len(keys)} event(s) were stored but have no feed position after "
                    f"{timeout:.0f} s: "
                    + (report.describe() if report else "an older transaction was in flight")
                )
            time.sleep(pause)
            pause = min(pause * 2, 0.05)

    def consumers(self) -> list[FeedConsumer]:
        """Registered consumers (tracking rows) and how many positions each is behind."""
        with self._transaction() as conn:
            conn.execute(QUERIES["sequence"], _BATCH)
            rows = conn.execute(QUERIES["consumers"]).fetchall()
        return [FeedConsumer(name, int(pos), int(behind), at) for name, pos, at, behind in rows]

    @contextmanager
    def listening(self) -> Iterator[Listener]:
        """A connection that LISTENs for new positions (its own, outside the pools)."""
        with translated(), psycopg.connect(with_timeout(self.db.dsn), autocommit=True) as conn:
            conn.execute(QUERIES["listen"])
            yield Listener(conn)


class Listener:
    """Waits for the sequencer's notifications; a timeout is the polling fallback."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def wait(self, timeout: float, seen: int | None = None) -> bool:
        """True when news arrived within `timeout` seconds: a writer's announcement, or
        positions after `seen` (a pass announcing positions already read is no news)."""
        deadline = time.monotonic() + timeout
        with translated():
            while (left := deadline - time.monotonic()) > 0:
                news = False
                for notify in self.conn.notifies(timeout=left, stop_after=1):
                    news = _is_news(notify.payload, seen)
                if news:
                    for _ in self.conn.notifies(timeout=0):  # drain what queued meanwhile
                        pass
                    return True
            return False


def _is_news(payload: str, seen: int | None) -> bool:
    return not payload.isdigit() or seen is None or int(payload) > seen


def held_back_report(rows: Sequence[Any]) -> HeldBack | None:
    """The report of `scripts_es.feed_held_back()` rows (none: nothing is held back)."""
    if not rows:
        return None
    waiting, pid, database, user, application, state, since, seconds = rows[0]
    if pid is None and waiting == 0:
        return None
    return HeldBack(int(waiting), pid, database, user, application, state, since, seconds)


_BATCH = {"max_events": SEQUENCE_BATCH}

"""Recorders of the `eventsourcing` library over the scripts-es event store and feed.

Notification ids are feed positions: dense, in commit order, assigned after commit by the
sequencer (no table lock on appends). `insert_events` commits, then returns the positions its
events received, waiting (up to `wait_timeout` seconds) while an older transaction still in
flight holds the horizon; past that it raises FeedHeldBack naming the holder (the events
stay stored). Recorders write as one tenant (`tenant_id`, default the nil UUID for events
that have none); the application recorder reads that tenant's feed under row-level security,
or, for `tenant_id=None`, the maintenance feed of every tenant.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    ApplicationRecorder,
    Notification,
    ProcessRecorder,
    StoredEvent,
    Tracking,
    TrackingRecorder,
)
from psycopg_pool import ConnectionPool

from scripts_es.errors import InvalidInput
from scripts_es.feed.errors import FeedIntegrityError, library_errors
from scripts_es.feed.subscription import FeedSubscription
from scripts_es.store.database import Conn, Database
from scripts_es.store.errors import translated
from scripts_es.store.feed import QUERIES, Feed

NIL_TENANT = UUID(int=0)  # the tenant of events written without one
NO_LIMIT = 2**62


class FeedRecorder:
    """What every recorder here shares: the pools, the writing tenant, the feed it reads."""

    def __init__(
        self,
        database: Database,
        *,
        tenant_id: UUID | None = None,
        wait_timeout: float = 10.0,
        poll_interval: float = 0.1,
        login_pool: ConnectionPool[Any] | None = None,
    ) -> None:
        self.database = database
        self.tenant_id = tenant_id
        self.writes_as = tenant_id or NIL_TENANT
        self.wait_timeout = wait_timeout
        self.poll_interval = poll_interval
        self.login_pool = login_pool
        self.feed = Feed(database, tenant_id)

    def _insert_events(self, conn: Conn, stored_events: Sequence[StoredEvent]) -> None:
        conn.execute(
            QUERIES["insert_events"],
            {
                "tenant_id": self.writes_as,
                "ids": [e.originator_id for e in stored_events],
                "versions": [e.originator_version for e in stored_events],
                "topics": [e.topic for e in stored_events],
                "states": [e.state for e in stored_events],
            },
            prepare=True,
        )

    def _positions(self, stored_events: Sequence[StoredEvent]) -> list[int]:
        keys = [(UUID(str(e.originator_id)), e.originator_version) for e in stored_events]
        return self.feed.positions_of(self.writes_as, keys, timeout=self.wait_timeout)


class FeedApplicationRecorder(FeedRecorder, ApplicationRecorder):
    """Events in streams and in the feed: eventsourcing's application recorder."""

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> list[int]:
        with library_errors():
            with self.database.tenant(self.writes_as) as conn:
                self._record(conn, stored_events, **kwargs)
            return self._positions(stored_events) if stored_events else []

    def _record(self, conn: Conn, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        if stored_events:
            self._insert_events(conn, stored_events)

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> list[StoredEvent]:
        params = {
            "tenant_id": self.writes_as,
            "originator_id": originator_id,
            "gt": -1 if gt is None else gt,
            "lte": NO_LIMIT if lte is None else lte,
            "limit": NO_LIMIT if limit is None else limit,
        }
        query = QUERIES["select_events_desc" if desc else "select_events"]
        with library_errors():
            rows = self.database.fetch(self.writes_as, query, params)
        return [StoredEvent(o, v, t, bytes(s)) for o, v, t, s in rows]

    def select_notifications(
        self,
        start: int | None,
        limit: int,
        stop: int | None = None,
        topics: Sequence[str] = (),
        *,
        inclusive_of_start: bool = True,
    ) -> list[Notification]:
        after = 0 if start is None else (start - 1 if inclusive_of_start else start)
        with library_errors():
            events = self.feed.read(max(after, 0), limit, stop=stop, topics=topics)
        return [
            Notification(
                id=e.position,
                originator_id=e.originator_id,
                originator_version=e.originator_version,
                topic=e.topic,
                state=e.state,
            )
            for e in events
        ]

    def max_notification_id(self) -> int | None:
        with library_errors():
            return self.feed.last_position()

    def subscribe(self, gt: int | None = None, topics: Sequence[str] = ()) -> FeedSubscription:
        return FeedSubscription(
            self, self.feed, gt=gt, topics=topics, poll_interval=self.poll_interval
        )


class FeedTrackingRecorder(FeedRecorder, TrackingRecorder):
    """Consumers' positions in scripts_es.feed_tracking (a row is a registered consumer).

    A view subclasses this and writes its own rows with `record(tracking)`: one transaction
    on the host's own login (no role switch, so its own tables are reachable) that also
    records the position, so a crash leaves both or neither.
    """

    @contextmanager
    def record(self, tracking: Tracking) -> Iterator[Conn]:
        """A transaction that records `tracking` when the block ends without an error."""
        if self.login_pool is None:
            raise InvalidInput(
                "login_pool",
                "record() writes the view on the host's own login: build the tracking "
                "recorder with the factory (scripts_es.feed.Factory), which gives it that pool",
            )
        with (
            library_errors(),
            translated(),
            self.login_pool.connection() as conn,
            conn.transaction(),
        ):
            yield conn
            self._insert_tracking(conn, tracking)

    def insert_tracking(self, tracking: Tracking) -> None:
        with library_errors(), self.database.tenant(self.writes_as) as conn:
            self._insert_tracking(conn, tracking)

    @staticmethod
    def _insert_tracking(conn: Conn, tracking: Tracking) -> None:
        row = conn.execute(
            QUERIES["insert_tracking"],
            {
                "application_name": tracking.application_name,
                "notification_id": tracking.notification_id,
            },
        ).fetchone()
        if row is None:
            raise FeedIntegrityError(
                f"{tracking.application_name!r} is already at or past position "
                f"{tracking.notification_id}: a position is recorded once, moving forward"
            )

    def max_tracking_id(self, application_name: str) -> int | None:
        with library_errors():
            rows = self.database.fetch(
                self.writes_as, QUERIES["max_tracking_id"], {"application_name": application_name}
            )
        return int(rows[0][0]) if rows else None


class FeedProcessRecorder(FeedTrackingRecorder, FeedApplicationRecorder, ProcessRecorder):
    """Events and the tracking position of what caused them, in one transaction."""

    def _record(self, conn: Conn, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        tracking: Tracking | None = kwargs.get("tracking")
        if tracking is not None:
            self._insert_tracking(conn, tracking)
        super()._record(conn, stored_events, **kwargs)

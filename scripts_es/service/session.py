"""A tenant session: who acts for which tenant, and what every call of theirs shares.

`Scope` is what the driver-agnostic steps (pipeline, transaction, operations) may use; the
blocking `Session` here and the asyncio one (`scripts_es/aio/session.py`) add their database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Protocol
from uuid import UUID

from scripts_es.errors import InvalidInput, StorageUnavailable
from scripts_es.service.steps import Context, Fetch, Outer, Pause
from scripts_es.settings import Clock, Settings
from scripts_es.store.cache import AggregateCache
from scripts_es.store.database import QUERIES, Conn, Database
from scripts_es.store.event_store import EventStore

Position = tuple[int, int]  # (txid, notification id): where a write sits in the runner's order


def check_uuid(field: str, value: object) -> UUID:
    """`value` if it is a UUID, else InvalidInput naming `field`."""
    if not isinstance(value, UUID):
        raise InvalidInput(field, "must be a UUID")
    return value


@dataclass
class Positions:
    """The newest write this session committed, for read-your-writes without inline
    projection. Each attempt keeps its own write's position until it commits (threads and
    asyncio tasks alike), then notes it here."""

    committed: Position | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def note(self, position: Position) -> None:
        """A write at `position` committed."""
        with self._lock:
            self.committed = max(position, self.committed or position)


class Scope(Protocol):
    """What the driver-agnostic steps know of a session: no database, only its parts."""

    @property
    def store(self) -> EventStore: ...
    @property
    def cache(self) -> AggregateCache: ...
    @property
    def settings(self) -> Settings: ...
    @property
    def tenant_id(self) -> UUID: ...
    @property
    def user_id(self) -> UUID: ...
    @property
    def positions(self) -> Positions: ...
    def context(self, *, use_cache: bool = False) -> Context: ...


def projected(scope: Scope) -> Outer:
    """Read-your-writes without inline projection: wait until the runner passed our writes."""
    target = scope.positions.committed
    if scope.settings.inline_projections or target is None:
        return
    timeout = scope.settings.projection_timeout
    deadline = time.monotonic() + timeout
    while True:
        rows = yield Fetch(QUERIES["projected_position"], None)
        if rows and tuple(rows[0]) >= target:
            return
        if time.monotonic() > deadline:
            raise StorageUnavailable(
                "the projection runner has not caught up with this session's writes within "
                f"{timeout:g} s; is `scripts-es projections run` running?"
            )
        yield Pause(0.02)


@dataclass(frozen=True)
class Session:
    """One tenant and acting user, over the module's database, store, cache and settings."""

    db: Database
    store: EventStore
    cache: AggregateCache
    settings: Settings
    tenant_id: UUID
    user_id: UUID
    positions: Positions = field(default_factory=Positions)

    @property
    def clock(self) -> Clock:
        return self.settings.clock

    def context(self, *, use_cache: bool = False) -> Context:
        """What decisions made in this session may know."""
        return Context(self.tenant_id, self.user_id, self.settings.clock, use_cache)

    @contextmanager
    def transaction(self) -> Iterator[Conn]:
        """One pipelined transaction that sees only this tenant's rows."""
        with self.db.tenant(self.tenant_id) as conn:
            yield conn

"""A tenant session: who acts for which tenant, and what every call of theirs shares."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from uuid import UUID

from scripts_es.errors import InvalidInput, StorageUnavailable
from scripts_es.service.steps import Context
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
    projection; the write of this thread's open transaction is staged until it commits."""

    committed: Position | None = None
    _open: threading.local = field(default_factory=threading.local)

    def stage(self, position: Position) -> None:
        self._open.staged = position

    def discard(self) -> None:
        self._open.staged = None

    def commit(self) -> None:
        staged = getattr(self._open, "staged", None)
        if staged is not None:
            self.committed = max(staged, self.committed or staged)
            self._open.staged = None


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

    def await_projection(self) -> None:
        """Read-your-writes without inline projection: wait until the runner passed our writes."""
        target = self.positions.committed
        if self.settings.inline_projections or target is None:
            return
        timeout = self.settings.projection_timeout
        deadline = time.monotonic() + timeout
        while True:
            with self.transaction() as conn:
                row = conn.execute(QUERIES["projected_position"]).fetchone()
            if row is not None and tuple(row) >= target:
                return
            if time.monotonic() > deadline:
                raise StorageUnavailable(
                    "the projection runner has not caught up with this session's writes within "
                    f"{timeout:g} s; is `scripts-es projections run` running?"
                )
            time.sleep(0.02)

"""The event store: how streams are appended and loaded inside a caller's tenant transaction.

Built on the `eventsourcing` library's StoredEvent and Mapper; the recorder is ours because the
schema needs more than the stock Postgres recorder has: a tenant column under row-level security,
an ordering that does not take a global table lock, appends that share a transaction with the
read model, routes and command log, and history that can be truncated behind a snapshot.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from scripts_es.domain.events import DomainEvent
from scripts_es.settings import Settings
from scripts_es.store.database import QUERIES, Conn
from scripts_es.store.mapper import PydanticMapper

MAX_VERSION = 2**62


class Aggregate(Protocol):
    @property
    def id(self) -> UUID: ...
    @property
    def version(self) -> int: ...


A = TypeVar("A", bound=Aggregate)
Fold = Callable[[Sequence[Any], Any], Any]


@dataclass(frozen=True)
class Loaded(Generic[A]):
    """A stream read back: its state (None if absent) and the oldest version still stored."""

    state: A | None
    horizon: int | None


class EventStore:
    """Appends and loads event streams; snapshots every `snapshot_every` events."""

    def __init__(
        self, mapper: PydanticMapper | None = None, *, snapshot_every: int = Settings.snapshot_every
    ) -> None:
        self.mapper = mapper or PydanticMapper()
        self.snapshot_every = snapshot_every

    def load(
        self,
        conn: Conn,
        tenant_id: UUID,
        stream_id: UUID,
        fold: Fold,
        *,
        upto: int | None = None,
    ) -> Loaded[Any]:
        """Newest snapshot (at or below `upto`) plus the events after it, folded."""
        params = self.load_params(tenant_id, stream_id, upto)
        rows = conn.execute(QUERIES["load_stream"], params, prepare=True).fetchall()
        return self.fold_rows(stream_id, rows, fold)

    @staticmethod
    def load_params(tenant_id: UUID, stream_id: UUID, upto: int | None = None) -> dict[str, Any]:
        """Parameters of the `load_stream` query."""
        return {
            "tenant_id": tenant_id,
            "originator_id": stream_id,
            "upto": MAX_VERSION if upto is None else upto,
        }

    def fold_rows(self, stream_id: UUID, rows: Sequence[Any], fold: Fold) -> Loaded[Any]:
        """Fold the rows of a `load_stream` query into the stream's state."""
        if not rows:
            return Loaded(None, None)
        state: Any = None
        events: list[DomainEvent] = []
        for is_snapshot, version, topic, data, _ in rows:
            stored = StoredEvent(stream_id, version, topic, bytes(data))
            if is_snapshot:
                state = self.mapper.from_snapshot(stored)
            else:
                events.append(self.mapper.to_domain_event(stored))
        return Loaded(fold(events, state) if events or state is None else state, rows[0][4])

    def append_params(
        self, tenant_id: UUID, events: Sequence[DomainEvent], after: Aggregate
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """The parts of an append (`events_one` or `events_many`, and `snapshot` when one is
        due) and their named parameters, to compose into a larger statement."""
        params: dict[str, Any] = {"tenant_id": tenant_id, "id": events[0].originator_id}
        parts: tuple[str, ...]
        if len(events) == 1:
            parts = ("events_one",)
            (event,) = events
            params["event_version"] = event.originator_version
            params["topic"], params["state"] = self.mapper.encode(event)
            params["occurred"] = event.timestamp
        else:
            parts = ("events_many",)
            encoded = [self.mapper.encode(event) for event in events]
            params["versions"] = [event.originator_version for event in events]
            params["topics"] = [topic for topic, _ in encoded]
            params["states"] = [state for _, state in encoded]
            params["occurred"] = [event.timestamp for event in events]
        first = events[0].originator_version
        every = self.snapshot_every
        if every and (first - 1) // every != after.version // every:
            snap = self.mapper.to_snapshot(after.without_pending(), after.version)  # type: ignore[attr-defined]
            parts += ("snapshot",)
            params["snap_version"] = snap.originator_version
            params["snap_topic"], params["snap_state"] = snap.topic, snap.state
        return parts, params

    def snapshot_params(self, tenant_id: UUID, state: Aggregate) -> dict[str, Any]:
        """Parameters of `insert_snapshot`: `state` stored whole, so loads start from here."""
        record = self.mapper.to_snapshot(state.without_pending(), state.version)  # type: ignore[attr-defined]
        return {
            "tenant_id": tenant_id,
            "originator_id": state.id,
            "version": state.version,
            "topic": record.topic,
            "state": record.state,
        }

    def committed_params(self, tenant_id: UUID, event: DomainEvent) -> dict[str, Any]:
        """Parameters of `event_exists`: after an in-doubt commit, is exactly this event stored?"""
        stored = self.mapper.to_stored_event(event)
        return {
            "tenant_id": tenant_id,
            "originator_id": stored.originator_id,
            "version": stored.originator_version,
            "state": stored.state,
        }

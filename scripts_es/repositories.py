"""The seed's repositories: writes append events (with inline projection), reads fold streams.

`find`, `count` and `find_for_script` read the projection tables only (projections.finders).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID

from projections import finders
from projections.rows import execution_params, script_params
from scripts_es import retention
from scripts_es.domain import (
    Execution,
    PruneResult,
    Script,
    VersionInfo,
    VersionRetentionPolicy,
)
from scripts_es.domain import execution as execution_fold
from scripts_es.domain import script as script_fold
from scripts_es.domain.events import (
    DomainEvent,
    ScriptCreated,
    ScriptDeleted,
    ScriptDetailsChanged,
    ScriptMetadataChanged,
)
from scripts_es.domain.values import HTTPMetadata, ScriptType
from scripts_es.errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    RouteConflict,
    ScriptsError,
    StorageUnavailable,
    VersionPruned,
)
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from scripts_es.store.cache import AggregateCache
from scripts_es.store.database import Conn, Database, Q
from scripts_es.store.errors import DuplicateKey, StreamMoved
from scripts_es.store.event_store import EventStore
from scripts_es.store.sql import load

W = load("scripts_es.store", "writes.sql")

Clock = Callable[[], datetime]
log = logging.getLogger("scripts_es")
AggregateT = TypeVar("AggregateT", Script, Execution)
_ROUTE_EVENTS = (ScriptCreated, ScriptMetadataChanged, ScriptDeleted)
_TAG_EVENTS = (ScriptCreated, ScriptDetailsChanged)


def system_clock() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class AutoPrune:
    """Prune a script's history under `policy` each time its version reaches a multiple of
    `every`, right after the write that got it there (so no host loop is needed)."""

    policy: VersionRetentionPolicy
    every: int = 100

    def __post_init__(self) -> None:
        retention.check_policy(self.policy)
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise InvalidInput("every", "must be a positive integer")

    def due(self, before: int, after: int) -> bool:
        return before // self.every != after // self.every


@dataclass(frozen=True)
class Session:
    """What every repository call of one tenant session shares."""

    db: Database
    store: EventStore
    tenant_id: UUID
    user_id: UUID
    clock: Clock = system_clock
    inline_projection: bool = True
    cache: AggregateCache = field(default_factory=lambda: AggregateCache(0))
    projection_timeout: float = 10.0
    auto_prune: AutoPrune | None = None
    written: list[tuple[int, int]] = field(default_factory=list)  # newest committed position
    # Position of the write in this thread's open transaction (sessions may be shared).
    _open: threading.local = field(default_factory=threading.local)

    @property
    def staged(self) -> list[tuple[int, int]]:
        if not hasattr(self._open, "staged"):
            self._open.staged = []
        staged: list[tuple[int, int]] = self._open.staged
        return staged

    def wrote(self, position: tuple[int, int]) -> None:
        """Remember the position of a write in the open transaction."""
        self.staged[:] = [position]

    def committed(self, written: Script | Execution | None) -> None:
        """The open transaction committed: its writes are now ours to read back, and the
        script may be due for automatic pruning."""
        self.written[:] = [max([*self.staged, *self.written])] if self.staged else self.written
        self.staged.clear()
        if self.auto_prune is None or not isinstance(written, Script) or written.is_deleted:
            return
        before = written.pending_events[0].originator_version - 1
        if self.auto_prune.due(before, written.version):
            try:
                retention.prune_script(
                    ScriptRepository(self), written.id, self.auto_prune.policy, dry_run=False
                )
            except ScriptsError as error:  # the write stands; the next due write prunes again
                log.warning("automatic prune of script %s failed: %s", written.id, error)

    def await_projection(self) -> None:
        """Read-your-writes without inline projection: wait until the runner passed our writes."""
        if self.inline_projection or not self.written:
            return
        target = self.written[0]
        deadline = time.monotonic() + self.projection_timeout
        while True:
            with self.db.tenant(self.tenant_id) as conn:
                row = conn.execute(Q["projected_position"]).fetchone()
            if row is not None and tuple(row) >= target:
                return
            if time.monotonic() > deadline:
                raise StorageUnavailable(
                    "the projection runner has not caught up with this session's writes within "
                    f"{self.projection_timeout:g} s; is `scripts-es projections run` running?"
                )
            time.sleep(0.02)


def check_uuid(field: str, value: object) -> UUID:
    if not isinstance(value, UUID):
        raise InvalidInput(field, "must be a UUID")
    return value


P = TypeVar("P", ScriptFindParams, ExecutionFindParams)
T = TypeVar("T")


def check_params(params: object, cls: type[P]) -> P:
    if params is None:
        return cls()
    if not isinstance(params, cls):
        raise InvalidInput("params", f"must be a {cls.__name__}")
    return params


class _Repository:
    def __init__(self, session: Session) -> None:
        self.s = session

    def _save(
        self, aggregate: AggregateT, check: Callable[[Conn], object] | None = None
    ) -> AggregateT:
        """Append the pending events in one transaction with routes and inline projection;
        `check` runs first in that transaction and may refuse the write."""
        events: Sequence[DomainEvent] = aggregate.pending_events
        if not events:
            return aggregate
        stored_first = self.s.store.mapper.to_stored_event(events[0])

        def attempt(n: int) -> AggregateT:
            if n:  # an earlier attempt failed in doubt: did it commit after all?
                with self.s.db.tenant(self.s.tenant_id) as conn:
                    if self.s.store.was_committed(conn, self.s.tenant_id, stored_first):
                        return aggregate.without_pending()
            self.s.staged.clear()
            try:
                with self.s.db.tenant(self.s.tenant_id) as conn:
                    if check:
                        check(conn)
                    self.write(conn, aggregate)
                self.s.committed(aggregate)
            except (DuplicateKey, StreamMoved) as error:
                self.s.cache.evict(self.s.tenant_id, aggregate.id)
                raise self._conflict(error, aggregate) from None
            saved = aggregate.without_pending()
            self.s.cache.put(saved)
            return saved

        return self.s.db.retrying(attempt)

    def write(self, conn: Conn, aggregate: Script | Execution) -> None:
        """Everything one change writes, as one statement inside the caller's transaction:
        events, snapshot, route changes and (inline projection) the read-model rows."""
        params, _ = self.s.store.append_params(
            self.s.tenant_id, aggregate.pending_events, aggregate
        )
        params["project"] = self.s.inline_projection
        self.lock_head(conn, aggregate.id, aggregate.pending_events[0].originator_version - 1)
        if isinstance(aggregate, Execution):
            cursor = conn.execute(W["write_execution"], {**params, **execution_params(aggregate)})
        else:
            cursor = self._write_script(conn, aggregate, params)
        if not self.s.inline_projection:
            row = cursor.fetchone()
            assert row is not None
            self.s.wrote((row[0], row[1]))

    def lock_head(self, conn: Conn, stream_id: UUID, head: int) -> None:
        """Hold the stream until commit and check that its head is `head` (StreamMoved if
        not): pruning removes old events, so the events primary key alone cannot tell."""
        conn.execute(
            Q["lock_stream_head"],
            {"tenant_id": self.s.tenant_id, "id": stream_id, "head": head},
            prepare=True,
        )

    def _write_script(self, conn: Conn, aggregate: Script, params: dict[str, Any]) -> Any:
        events = aggregate.pending_events
        route_changed = aggregate.type is ScriptType.HTTP and any(
            isinstance(e, _ROUTE_EVENTS) for e in events
        )
        live_route = route_changed and not aggregate.is_deleted
        metadata = aggregate.metadata
        params.update(
            script_params(aggregate, events),
            tags_changed=any(isinstance(e, _TAG_EVENTS) for e in events),
            route_changed=route_changed,
            method=metadata.method if live_route and isinstance(metadata, HTTPMetadata) else None,
            path=metadata.path if live_route and isinstance(metadata, HTTPMetadata) else None,
        )
        return conn.execute(W["write_script"], params)

    def _conflict(
        self, error: DuplicateKey | StreamMoved, aggregate: Script | Execution
    ) -> Exception:
        if isinstance(error, DuplicateKey) and error.constraint == "script_routes_pkey":
            assert isinstance(aggregate, Script) and isinstance(aggregate.metadata, HTTPMetadata)
            return RouteConflict(aggregate.metadata.method, aggregate.metadata.path)
        if isinstance(error, StreamMoved) or error.constraint == "events_pkey":
            first = aggregate.pending_events[0].originator_version
            if first == 1:
                kind = "script" if isinstance(aggregate, Script) else "execution"
                return InvalidInput("id", f"a {kind} with id {aggregate.id} already exists")
            return ConcurrencyConflict(aggregate.id, first - 1)
        return error

    def _read(self, work: Callable[[Conn], T]) -> T:
        """A read in one tenant transaction, retried after a transient failure."""
        return self.s.db.retrying(lambda _: self._once(work))

    def _fetch(self, query: str, params: Any) -> list[Any]:
        """One read statement in one round trip, retried after a transient failure."""
        return self.s.db.retrying(lambda _: self.s.db.fetch(self.s.tenant_id, query, params))

    def _fetch_state(self, stream_id: UUID, fold: Any) -> Any:
        """A stream's current state in one round trip (reads never use the command cache)."""
        params = self.s.store.load_params(self.s.tenant_id, stream_id)
        rows = self._fetch(Q["load_stream"], params)
        return self.s.store.fold_rows(stream_id, rows, fold).state

    def _once(self, work: Callable[[Conn], T]) -> T:
        with self.s.db.tenant(self.s.tenant_id) as conn:
            return work(conn)

    def _check_tenant(self, aggregate: Script | Execution, *, creating: bool) -> None:
        expected = Script if isinstance(self, ScriptRepository) else Execution
        if not isinstance(aggregate, expected):
            raise InvalidInput(expected.__name__.lower(), f"must be a {expected.__name__}")
        if aggregate.tenant_id != self.s.tenant_id:
            kind = "script" if isinstance(aggregate, Script) else "execution"
            if creating:
                raise InvalidInput("tenant_id", f"the {kind} belongs to another tenant")
            raise NotFound(kind, aggregate.id)
        first = aggregate.pending_events[0].originator_version if aggregate.pending_events else None
        if creating and first != 1:
            raise InvalidInput("pending_events", "create needs a new aggregate (version 1 pending)")
        if not creating and first == 1:
            raise InvalidInput("pending_events", "update needs a loaded aggregate; use create")


class ScriptRepository(_Repository):
    """Scripts of one tenant: writes through the event store, finds through the read model."""

    def create(self, script: Script) -> Script:
        """Store a new script (its pending ScriptCreated and any later pending events)."""
        self._check_tenant(script, creating=True)
        return self._save(script)

    def update(self, script: Script) -> Script:
        """Store the pending events of a script loaded earlier (optimistic concurrency)."""
        self._check_tenant(script, creating=False)
        return self._save(script)

    def delete(self, script_id: UUID) -> None:
        """Delete a script: gone from every read; its executions stay readable by id."""
        self.update(self.find_by_id(script_id).delete(self.s.user_id, at=self.s.clock()))

    def load(self, conn: Conn, script_id: UUID, *, cached: bool = False) -> Script:
        """The current state: from the command cache if `cached` and known, else the store."""
        state = self.s.cache.get(self.s.tenant_id, script_id) if cached else None
        if state is None:
            loaded = self.s.store.load(
                conn, self.s.tenant_id, check_uuid("script_id", script_id), script_fold.fold
            )
            state = loaded.state
            if state is not None:
                self.s.cache.put(state)
        if not isinstance(state, Script) or state.is_deleted:
            raise NotFound("script", script_id)
        return state

    def find_by_id(self, script_id: UUID) -> Script:
        """The script's current state, folded from its stream."""
        state = self._fetch_state(check_uuid("script_id", script_id), script_fold.fold)
        if not isinstance(state, Script) or state.is_deleted:
            raise NotFound("script", script_id)
        return state

    def find(self, params: ScriptFindParams | None = None) -> list[Script]:
        """Scripts matching `params`, from the read model."""
        p = check_params(params, ScriptFindParams)
        self.s.await_projection()
        rows = self._fetch(*finders.find_scripts_sql(self.s.tenant_id, p))
        return [finders.script_from_row(row) for row in rows]

    def count(self, params: ScriptFindParams | None = None) -> int:
        """How many scripts match `params` (limit and offset ignored)."""
        p = check_params(params, ScriptFindParams)
        self.s.await_projection()
        return int(self._fetch(*finders.count_scripts_sql(self.s.tenant_id, p))[0][0])

    def get_version_history(self, script_id: UUID) -> list[VersionInfo]:
        """Every retained version, ascending: version, when, by whom, which change."""
        self.s.await_projection()

        def history(conn: Conn) -> list[Any]:
            self.load(conn, script_id)
            return conn.execute(
                Q["version_history"], {"tenant_id": self.s.tenant_id, "script_id": script_id}
            ).fetchall()

        rows = self._read(history)
        return [
            VersionInfo(version=v, updated_at=at, updated_by=by, change=change)
            for v, at, by, change in rows
        ]

    def get_version(self, script_id: UUID, version: int) -> Script:
        """Time travel: the script as it was at `version` (VersionPruned below the horizon)."""
        script_id = check_uuid("script_id", script_id)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidInput("version", "must be a positive integer")

        def travel(conn: Conn) -> Script:
            # Both loads must see the same side of any concurrent prune.
            conn.execute(Q["share_streams"], {"ids": [script_id]})
            current = self.s.store.load(conn, self.s.tenant_id, script_id, script_fold.fold)
            if not isinstance(current.state, Script) or current.state.is_deleted:
                raise NotFound("script", script_id)
            if version > current.state.version:
                raise NotFound("script version", f"{script_id}@{version}")
            horizon = current.horizon or 1
            if version < horizon:
                raise VersionPruned(script_id, version, horizon)
            state = self.s.store.load(
                conn, self.s.tenant_id, script_id, script_fold.fold, upto=version
            ).state
            if not isinstance(state, Script) or state.version != version:
                raise VersionPruned(script_id, version, horizon)  # never an older state
            return state

        return self._read(travel)

    def prune_version_history(
        self, script_id: UUID, policy: VersionRetentionPolicy, *, dry_run: bool = False
    ) -> PruneResult:
        """Drop history below the policy's horizon (snapshot + truncation, one transaction)."""
        return retention.prune_script(self, script_id, policy, dry_run=dry_run).result


class ExecutionRepository(_Repository):
    """Executions of one tenant."""

    def create(self, execution: Execution) -> Execution:
        """Store a new execution; its script must exist, live, in this tenant."""
        self._check_tenant(execution, creating=True)
        return self._save(execution, check=lambda conn: self.runnable(conn, execution.script_id))

    def runnable(self, conn: Conn, script_id: UUID) -> Script:
        """The script an execution starts from, held against concurrent changes until commit:
        live and enabled, or NotFound / InvalidTransition."""
        conn.execute(Q["share_streams"], {"ids": [script_id]})
        script = ScriptRepository(self.s).load(conn, script_id)
        if not script.is_enabled:
            raise InvalidTransition(f"script {script.id} is disabled and cannot run")
        return script

    def update(self, execution: Execution) -> Execution:
        """Store the pending events of an execution loaded earlier."""
        self._check_tenant(execution, creating=False)
        return self._save(execution)

    def load(self, conn: Conn, execution_id: UUID, *, cached: bool = False) -> Execution:
        """The current state: from the command cache if `cached` and known, else the store."""
        state = self.s.cache.get(self.s.tenant_id, execution_id) if cached else None
        if state is None:
            stream_id = check_uuid("execution_id", execution_id)
            loaded = self.s.store.load(conn, self.s.tenant_id, stream_id, execution_fold.fold)
            state = loaded.state
            if state is not None:
                self.s.cache.put(state)
        if not isinstance(state, Execution):
            raise NotFound("execution", execution_id)
        return state

    def find_by_id(self, execution_id: UUID) -> Execution:
        """The execution's current state, folded from its stream."""
        state = self._fetch_state(check_uuid("execution_id", execution_id), execution_fold.fold)
        if not isinstance(state, Execution):
            raise NotFound("execution", execution_id)
        return state

    def find_for_script(
        self, script_id: UUID, params: ExecutionFindParams | None = None
    ) -> list[Execution]:
        """Executions of one script matching `params`, from the read model."""
        check_uuid("script_id", script_id)
        p = check_params(params, ExecutionFindParams)
        self.s.await_projection()
        rows = self._fetch(*finders.find_executions_sql(self.s.tenant_id, script_id, p))
        return [finders.execution_from_row(row) for row in rows]

    def prune(self, older_than_days: int, keep_last_per_script: int = 0) -> int:
        """Remove terminal executions older than that (keeping each script's newest N)."""
        return retention.prune_executions(
            self, older_than_days, keep_last_per_script, dry_run=False
        )[0]

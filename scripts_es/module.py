"""The composition root: `ScriptsModule.open()` wires pools, event store, projectors, handlers."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any
from uuid import UUID

import orjson

from projections import rebuild, runner
from scripts_es import commands as c
from scripts_es import retention
from scripts_es.config import resolve_dsn
from scripts_es.domain import Execution, PruneResult, Script, VersionRetentionPolicy
from scripts_es.errors import ConcurrencyConflict, Conflict, InvalidInput
from scripts_es.handlers import HANDLERS, UnitOfWork
from scripts_es.reports import (
    ProjectionStatus,
    PruneSummary,
    RebuildReport,
    RunReport,
    VerifyReport,
)
from scripts_es.repositories import (
    AutoPrune,
    Clock,
    ExecutionRepository,
    ScriptRepository,
    Session,
    check_uuid,
    system_clock,
)
from scripts_es.store import migrations
from scripts_es.store.cache import AggregateCache
from scripts_es.store.database import Database, Q, install_schema, with_timeout
from scripts_es.store.errors import DuplicateKey, StreamMoved
from scripts_es.store.event_store import EventStore

Result = Script | Execution | PruneResult
_KINDS: dict[str, type[Script] | type[Execution] | type[PruneResult]] = {
    "script": Script,
    "execution": Execution,
    "prune": PruneResult,
}


def _encode_result(result: Result) -> tuple[str, bytes]:
    kind = {Script: "script", Execution: "execution", PruneResult: "prune"}[type(result)]
    return kind, orjson.dumps(result.model_dump(mode="json"))


class TenantSession:
    """Everything scoped to one tenant and acting user."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.scripts = ScriptRepository(session)
        self.executions = ExecutionRepository(session)

    def handle(self, command: c.Command) -> Any:
        """Apply a command; the same `command_id` twice is applied once, same result."""
        if not isinstance(command, c.Command):
            raise InvalidInput("command", f"not a command: {type(command).__name__}")
        if isinstance(command, c.PruneScriptHistory):
            return self._prune(command)
        handler = HANDLERS.get(type(command))
        if handler is None:
            raise InvalidInput("command", f"no handler for {type(command).__name__}")
        s = self.session
        decided: list[Script | Execution] = []
        cached: list[UUID] = []

        def attempt(n: int, use_cache: bool) -> Result:
            if n and decided:  # the previous attempt failed in doubt: did it commit?
                written = decided[-1]
                first = s.store.mapper.to_stored_event(written.pending_events[0])
                with s.db.tenant(s.tenant_id) as conn:
                    if s.store.was_committed(conn, s.tenant_id, first):
                        return written.without_pending()
            decided.clear()
            s.staged.clear()
            try:
                with s.db.tenant(s.tenant_id) as conn:
                    if command.command_id is not None:
                        replay = self._replay(conn, command)
                        if replay is not None:
                            return replay
                    uow = UnitOfWork(conn, s, self.scripts, self.executions, use_cache=use_cache)
                    try:
                        result = handler(command, uow)
                    finally:
                        cached.extend(uow.cached_ids)
                        if uow.written is not None:
                            decided.append(uow.written)
                    if command.command_id is not None:
                        self._record(conn, command, result)
                s.committed(decided[-1] if decided else None)
            except (DuplicateKey, StreamMoved) as error:
                if command.command_id is not None:
                    # A concurrent handling of the same command may have won (its write made
                    # ours collide on the command log, a route or the stream): same result.
                    with s.db.tenant(s.tenant_id) as conn:
                        replay = self._replay(conn, command)
                    if replay is not None:
                        return replay
                if decided:
                    raise self.scripts._conflict(error, decided[-1]) from None
                if isinstance(error, StreamMoved) and cached:  # a no-op on a stale cached state
                    raise ConcurrencyConflict(cached[-1]) from None
                raise
            if isinstance(result, Script | Execution):
                s.cache.put(result)
            return result

        try:
            return s.db.retrying(lambda n: attempt(n, True))
        except ConcurrencyConflict:
            if not cached:
                raise
        # The decision was made on a cached state that turned out stale: decide again, fresh.
        for aggregate_id in cached:
            s.cache.evict(s.tenant_id, aggregate_id)
        return s.db.retrying(lambda n: attempt(n, False))

    def _prune(self, command: c.PruneScriptHistory) -> Result:
        s = self.session
        policy = VersionRetentionPolicy(
            max_versions=command.max_versions, retention_days=command.retention_days
        )
        if command.command_id is not None:
            with s.db.tenant(s.tenant_id) as conn:
                replay = self._replay(conn, command)
            if replay is not None:
                return replay

        def record(conn: Any, result: PruneResult) -> None:
            if command.command_id is not None:
                self._record(conn, command, result)

        try:
            return retention.prune_script(
                self.scripts,
                command.script_id,
                policy,
                dry_run=False,
                expected_version=command.expected_version,
                also=record,
            ).result
        except DuplicateKey as error:
            if error.constraint != "commands_pkey" or command.command_id is None:
                raise
            with s.db.tenant(s.tenant_id) as conn:
                replay = self._replay(conn, command)
            assert replay is not None
            return replay

    def _replay(self, conn: Any, command: c.Command) -> Result | None:
        """The stored result of an earlier handling of this command_id, if any."""
        row = conn.execute(
            Q["find_command"],
            {"tenant_id": self.session.tenant_id, "command_id": command.command_id},
        ).fetchone()
        if row is None:
            return None
        kind, data = row
        name, _, result_kind = kind.partition(":")
        if name != type(command).__name__:
            raise Conflict(
                f"command_id {command.command_id} was already used for a {name}, "
                f"not a {type(command).__name__}; use a fresh command_id"
            )
        return _KINDS[result_kind].model_validate(orjson.loads(data))

    def _record(self, conn: Any, command: c.Command, result: Result) -> None:
        kind, data = _encode_result(result)
        conn.execute(
            Q["record_command"],
            {
                "tenant_id": self.session.tenant_id,
                "command_id": command.command_id,
                "kind": f"{type(command).__name__}:{kind}",
                "result": data,
            },
        )


@dataclass(frozen=True)
class Options:
    """How a module behaves; every field has a sensible default (see ScriptsModule.open)."""

    clock: Clock = system_clock
    inline_projections: bool = True
    projection_timeout: float = 10.0
    auto_prune: AutoPrune | None = None


def upgrade_schema(dsn: str | None = None) -> migrations.SchemaStatus:
    """Install the schema or apply its pending migrations (as the schema's owner)."""
    resolved = resolve_dsn(dsn)
    install_schema(resolved)
    return schema_status(resolved)


def schema_status(dsn: str | None = None) -> migrations.SchemaStatus:
    """The database's schema version beside the code's (nothing is changed)."""
    import psycopg

    from scripts_es.store.errors import translated

    with translated(), psycopg.connect(with_timeout(resolve_dsn(dsn))) as conn:
        return migrations.status(conn)


class ScriptsModule:
    """The embeddable module. Open it once per process; take a tenant session per request."""

    def __init__(
        self,
        db: Database,
        store: EventStore,
        options: Options | None = None,
        cache: AggregateCache | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.options = options or Options()
        self.cache = cache or AggregateCache(0)

    @property
    def clock(self) -> Clock:
        return self.options.clock

    @classmethod
    def open(
        cls,
        dsn: str | None = None,
        *,
        snapshot_every: int = 20,
        clock: Clock | None = None,
        inline_projections: bool = True,
        install: bool = True,
        pool_size: int = 8,
        cache_size: int = 1024,
        projection_timeout: float = 10.0,
        auto_prune: AutoPrune | None = None,
        maintenance_dsn: str | None = None,
    ) -> ScriptsModule:
        """Connect (embedded PostgreSQL when no DSN is configured) and install the schema.

        install: install the schema, or apply pending migrations (needs the schema's owner);
            with False the database must already be at this code's version.
        maintenance_dsn: a login that is a member of scripts_es_maint, for the runner,
            rebuild, verify and cross-tenant prunes; by default the same login as `dsn`. A
            host app's own login then needs to be a member of scripts_es_app only.

        snapshot_every: store a snapshot every N events of a stream (0 turns snapshots off).
        inline_projections: update the read model in the write transaction (read-your-writes);
            when False, `scripts-es projections run` must run and reads wait for it
            (up to projection_timeout seconds).
        cache_size: aggregates kept in memory for the command path (0 turns it off).
        auto_prune: prune a script's history under a policy every N versions, after the write.
        """
        if isinstance(snapshot_every, bool) or not isinstance(snapshot_every, int):
            raise InvalidInput("snapshot_every", "must be an integer")
        if snapshot_every < 0:
            raise InvalidInput("snapshot_every", "must be 0 (off) or a positive number of events")
        if auto_prune is not None and not isinstance(auto_prune, AutoPrune):
            raise InvalidInput("auto_prune", "must be an AutoPrune")
        resolved = resolve_dsn(dsn)
        if install:
            install_schema(resolved)
        db = Database(resolved, max_size=pool_size, maintenance_dsn=maintenance_dsn)
        db.open()
        options = Options(
            clock=clock or system_clock,
            inline_projections=inline_projections,
            projection_timeout=projection_timeout,
            auto_prune=auto_prune,
        )
        return cls(
            db, EventStore(snapshot_every=snapshot_every), options, AggregateCache(cache_size)
        )

    def tenant(self, tenant_id: UUID, user_id: UUID) -> TenantSession:
        """A session scoped to `tenant_id`, acting as `user_id`."""
        session = Session(
            db=self.db,
            store=self.store,
            tenant_id=check_uuid("tenant_id", tenant_id),
            user_id=check_uuid("user_id", user_id),
            clock=self.options.clock,
            inline_projection=self.options.inline_projections,
            cache=self.cache,
            projection_timeout=self.options.projection_timeout,
            auto_prune=self.options.auto_prune,
        )
        return TenantSession(session)

    def with_clock(self, clock: Clock) -> ScriptsModule:
        """The same module (same pools) with another clock; tests use it to travel in time."""
        return ScriptsModule(self.db, self.store, replace(self.options, clock=clock), self.cache)

    # -- maintenance (operators, the CLI) -------------------------------------------------------

    def projection_status(self) -> list[ProjectionStatus]:
        """Position and lag of the out-of-process projection runner."""
        return runner.status(self.db)

    def run_projections(
        self,
        *,
        once: bool = False,
        batch_size: int = 500,
        poll_interval: float = 0.5,
        stop: threading.Event | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> RunReport:
        """Follow new events into the read model (exactly once); `once` stops when caught up."""
        return runner.run(
            self.db,
            self.store,
            once=once,
            batch_size=batch_size,
            poll_interval=poll_interval,
            stop=stop,
            progress=progress,
        )

    def rebuild_projections(
        self,
        *,
        tenant_id: UUID | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> RebuildReport:
        """Rebuild the read model from the event store; live tables stay readable until swapped."""
        return rebuild.rebuild(self.db, self.store, tenant_id=tenant_id, progress=progress)

    def verify_projections(
        self,
        *,
        tenant_id: UUID | None = None,
        progress: Callable[[int, int], None] | None = None,
    ) -> VerifyReport:
        """Rebuild into scratch tables and diff them against the live ones."""
        return rebuild.verify(self.db, self.store, tenant_id=tenant_id, progress=progress)

    def prune_scripts(
        self,
        policy: VersionRetentionPolicy,
        *,
        tenant_id: UUID | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PruneSummary:
        """Prune the history of every script (of one tenant, or all) under `policy`."""
        return retention.prune_all_scripts(
            self, policy, tenant_id=tenant_id, dry_run=dry_run, progress=progress
        )

    def prune_executions(
        self,
        older_than_days: int,
        *,
        keep_last_per_script: int = 0,
        tenant_id: UUID | None = None,
        dry_run: bool = False,
    ) -> PruneSummary:
        """Remove terminal executions older than `older_than_days` across tenants (or one)."""
        return retention.prune_all_executions(
            self,
            older_than_days,
            keep_last_per_script=keep_last_per_script,
            tenant_id=tenant_id,
            dry_run=dry_run,
        )

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> ScriptsModule:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

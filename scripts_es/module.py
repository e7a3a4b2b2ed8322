"""The composition root: `ScriptsModule.open()` builds the pools, event store, cache and
settings, and hands each tenant session to the service layer. It decides nothing itself."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from types import TracebackType
from typing import overload
from uuid import UUID

import psycopg

from projections import rebuild, runner
from scripts_es import commands
from scripts_es.config import resolve_dsn
from scripts_es.domain import Execution, PruneResult, Script, VersionRetentionPolicy
from scripts_es.domain.schedule import DueRun
from scripts_es.errors import InvalidInput
from scripts_es.reports import (
    ProjectionStatus,
    PruneSummary,
    RebuildReport,
    RunReport,
    SchedulerReport,
    VerifyReport,
)
from scripts_es.service import maintenance, pipeline, scheduler, workers
from scripts_es.service.repositories import ExecutionRepository, ScriptRepository
from scripts_es.service.session import Session, check_uuid
from scripts_es.service.unit_of_work import drive, operate
from scripts_es.settings import AutoPrune, Clock, Settings
from scripts_es.store import migrations
from scripts_es.store.cache import AggregateCache
from scripts_es.store.database import QUERIES, Database, install_schema, with_timeout
from scripts_es.store.errors import translated
from scripts_es.store.event_store import EventStore
from scripts_es.store.feed import Feed

DEFAULTS = Settings()


def upgrade_schema(dsn: str | None = None) -> migrations.SchemaStatus:
    """Install the schema or apply its pending migrations (as the schema's owner)."""
    resolved = resolve_dsn(dsn)
    install_schema(resolved)
    return schema_status(resolved)


def schema_status(dsn: str | None = None) -> migrations.SchemaStatus:
    """The database's schema version beside the code's (nothing is changed)."""
    with translated(), psycopg.connect(with_timeout(resolve_dsn(dsn))) as conn:
        return migrations.status(conn)


class TenantSession:
    """Everything scoped to one tenant and acting user."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.scripts = ScriptRepository(session)
        self.executions = ExecutionRepository(session)

    @overload
    def handle(self, command: commands.ScriptCommand) -> Script: ...
    @overload
    def handle(self, command: commands.ExecutionCommand) -> Execution: ...
    @overload
    def handle(self, command: commands.PruneScriptHistory) -> PruneResult: ...
    @overload
    def handle(self, command: commands.Command) -> Script | Execution | PruneResult: ...

    def handle(self, command: commands.Command) -> Script | Execution | PruneResult:
        """Apply a command; the same `command_id` twice is applied once, same result."""
        result: Script | Execution | PruneResult | int
        result = drive(self.session, pipeline.handle(self.session, command))
        assert not isinstance(result, int)
        return result


class ScriptsModule:
    """The embeddable module. Open it once per process; take a tenant session per request."""

    def __init__(
        self,
        db: Database,
        store: EventStore,
        settings: Settings = DEFAULTS,
        cache: AggregateCache | None = None,
    ) -> None:
        self.db = db
        self.store = store
        self.settings = settings
        self.cache = cache or AggregateCache(settings.cache_size)

    @property
    def clock(self) -> Clock:
        return self.settings.clock

    @classmethod
    def open(
        cls,
        dsn: str | None = None,
        *,
        install: bool = True,
        maintenance_dsn: str | None = None,
        snapshot_every: int = DEFAULTS.snapshot_every,
        cache_size: int = DEFAULTS.cache_size,
        pool_size: int = DEFAULTS.pool_size,
        inline_projections: bool = DEFAULTS.inline_projections,
        projection_timeout: float = DEFAULTS.projection_timeout,
        auto_prune: AutoPrune | None = None,
        clock: Clock | None = None,
    ) -> ScriptsModule:
        """Connect (embedded PostgreSQL when no DSN is configured) and install the schema.

        install: install the schema, or apply pending migrations (needs the schema's owner);
            with False the database must already be at this code's version.
        maintenance_dsn: a login that is a member of scripts_es_maint, for the runner,
            rebuild, verify and cross-tenant prunes; by default the same login as `dsn`. A
            host app's own login then needs to be a member of scripts_es_app only.
        The other arguments are `Settings` fields (see scripts_es/settings.py): snapshots every
        N events (0: off), the command cache's size (0: off), the tenant pool's size, whether
        the read model is written inline (else `scripts-es projections run` must run, and reads
        wait up to projection_timeout seconds for it), automatic pruning, the clock.
        """
        settings = Settings(
            snapshot_every=snapshot_every,
            cache_size=cache_size,
            pool_size=pool_size,
            inline_projections=inline_projections,
            projection_timeout=projection_timeout,
            auto_prune=auto_prune,
            clock=clock or DEFAULTS.clock,
        )
        resolved = resolve_dsn(dsn)
        if install:
            install_schema(resolved)
        db = Database(
            resolved,
            max_size=settings.pool_size,
            retries=settings.retries,
            maintenance_dsn=maintenance_dsn,
        )
        db.open()
        return cls(db, EventStore(snapshot_every=settings.snapshot_every), settings)

    def tenant(self, tenant_id: UUID, user_id: UUID) -> TenantSession:
        """A session scoped to `tenant_id`, acting as `user_id`."""
        return TenantSession(self._session(tenant_id, user_id))

    def _session(self, tenant_id: UUID, user_id: UUID) -> Session:
        return Session(
            db=self.db,
            store=self.store,
            cache=self.cache,
            settings=self.settings,
            tenant_id=check_uuid("tenant_id", tenant_id),
            user_id=check_uuid("user_id", user_id),
        )

    def with_clock(self, clock: Clock) -> ScriptsModule:
        """The same module (same pools) with another clock; tests use it to travel in time."""
        return ScriptsModule(self.db, self.store, self.settings.with_clock(clock), self.cache)

    def feed(self, tenant_id: UUID | None = None) -> Feed:
        """The module's events in commit order as integer positions (DESIGN §9).

        A tenant's feed reads under row-level security as scripts_es_app and sees only that
        tenant's events; `tenant_id=None` is the maintenance feed of every tenant (needs a
        login that is a member of scripts_es_maint).
        """
        return Feed(self.db, None if tenant_id is None else check_uuid("tenant_id", tenant_id))

    # -- running scripts (schedulers and workers, across tenants) -------------------------------

    def due(self, until: datetime, limit: int = 100) -> list[DueRun]:
        """Cron scripts of every tenant whose next slot is at or before `until`, oldest first."""
        params = workers.check_due(until, limit)
        with self.db.maintenance() as conn:
            return workers.due_runs(conn.execute(QUERIES["due_runs"], params).fetchall())

    def claim(
        self, worker: str, *, limit: int = 1, lease: timedelta | float = 60.0
    ) -> list[Execution]:
        """Move up to `limit` of the oldest pending executions (any tenant) to running for
        `worker`, each until `lease` (seconds or a timedelta) ends; never one to two workers."""
        name, checked, duration = workers.check_claim(worker, limit, lease)
        return workers.claim(
            self.db, self.store, self.cache, self.settings, name, limit=checked, lease=duration
        )

    def run_scheduler(
        self,
        *,
        once: bool = False,
        tenant_id: UUID | None = None,
        interval: float = 5.0,
        stop: threading.Event | None = None,
        progress: Callable[[SchedulerReport], None] | None = None,
    ) -> SchedulerReport:
        """Fire every due cron slot (of one tenant, or all) every `interval` seconds until
        `stop` is set, or once. Several schedulers may run: each slot fires once."""
        if not 0 < interval <= 3600:
            raise InvalidInput("interval", "must be more than 0 and at most 3600 seconds")
        tenant = None if tenant_id is None else self.tenant(tenant_id, scheduler.SCHEDULER)

        def list_due(limit: int) -> list[DueRun]:
            if tenant is None:
                return self.due(self.clock(), limit)
            return tenant.scripts.due(self.clock(), limit)

        sessions: dict[UUID, TenantSession] = {}

        def fire(tenant_id: UUID, command: commands.FireScheduledRun) -> Execution:
            if tenant_id not in sessions:
                sessions[tenant_id] = self.tenant(tenant_id, scheduler.SCHEDULER)
            return sessions[tenant_id].handle(command)

        return scheduler.run(
            list_due, fire, once=once, interval=interval, stop=stop, progress=progress
        )

    def sweep(self, *, limit: int = workers.MAX_BATCH) -> list[Execution]:
        """Complete as `timeout` the running executions whose lease ended (a later completion
        then gets InvalidTransition)."""
        return workers.sweep(self.db, self.store, self.cache, self.settings, limit=limit)

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
        summary: PruneSummary = operate(
            self.db,
            self._session,
            maintenance.prune_all_scripts(
                policy, tenant_id=tenant_id, dry_run=dry_run, progress=progress
            ),
        )
        return summary

    def prune_executions(
        self,
        older_than_days: int,
        *,
        keep_last_per_script: int = 0,
        tenant_id: UUID | None = None,
        dry_run: bool = False,
    ) -> PruneSummary:
        """Remove terminal executions older than `older_than_days` across tenants (or one)."""
        summary: PruneSummary = operate(
            self.db,
            self._session,
            maintenance.prune_all_executions(
                older_than_days,
                keep_last_per_script=keep_last_per_script,
                tenant_id=tenant_id,
                dry_run=dry_run,
            ),
        )
        return summary

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

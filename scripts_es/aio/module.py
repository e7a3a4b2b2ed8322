"""The async composition root: `AsyncScriptsModule.open()` builds the async pools, event store,
cache and settings, and hands each tenant session to the async repositories. It decides
nothing; the blocking parts of opening (embedded server, schema install) run in a thread.

    async with AsyncScriptsModule.open(dsn) as module:      # or: module = await ….open(dsn)
        t = module.tenant(tenant_id, user_id)
        script = await t.handle(CreateScript(...))
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Generator
from datetime import datetime, timedelta
from types import TracebackType
from typing import Any, overload
from uuid import UUID

from scripts_es import commands
from scripts_es.aio.database import AsyncDatabase
from scripts_es.aio.driver import drive, operate
from scripts_es.aio.repositories import AsyncExecutionRepository, AsyncScriptRepository
from scripts_es.aio.session import AsyncSession
from scripts_es.config import resolve_dsn
from scripts_es.domain import DueRun, Execution, PruneResult, Script, VersionRetentionPolicy
from scripts_es.reports import PruneSummary
from scripts_es.service import maintenance, pipeline, workers
from scripts_es.service.session import check_uuid
from scripts_es.settings import AutoPrune, Clock, Settings
from scripts_es.store.cache import AggregateCache
from scripts_es.store.database import QUERIES, install_schema
from scripts_es.store.event_store import EventStore

DEFAULTS = Settings()


class AsyncTenantSession:
    """Everything scoped to one tenant and acting user, as coroutines."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.scripts = AsyncScriptRepository(session)
        self.executions = AsyncExecutionRepository(session)

    @overload
    async def handle(self, command: commands.ScriptCommand) -> Script: ...
    @overload
    async def handle(self, command: commands.ExecutionCommand) -> Execution: ...
    @overload
    async def handle(self, command: commands.PruneScriptHistory) -> PruneResult: ...
    @overload
    async def handle(self, command: commands.Command) -> Script | Execution | PruneResult: ...

    async def handle(self, command: commands.Command) -> Script | Execution | PruneResult:
        """Apply a command; the same `command_id` twice is applied once, same result."""
        result: Script | Execution | PruneResult | int
        result = await drive(self.session, pipeline.handle(self.session, command))
        assert not isinstance(result, int)
        return result


class Opening:
    """What `AsyncScriptsModule.open()` returns: await it for the open module, or use it as
    `async with` to have the module closed at the end."""

    def __init__(self, connect: Callable[[], Awaitable[AsyncScriptsModule]]) -> None:
        self._connect = connect
        self._module: AsyncScriptsModule | None = None

    def __await__(self) -> Generator[Any, None, AsyncScriptsModule]:
        return self._connect().__await__()

    async def __aenter__(self) -> AsyncScriptsModule:
        self._module = await self._connect()
        return self._module

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._module is not None:
            await self._module.close()


class AsyncScriptsModule:
    """The embeddable module for asyncio hosts: the surface of `ScriptsModule`, awaited."""

    def __init__(
        self,
        db: AsyncDatabase,
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
    ) -> Opening:
        """Connect (embedded PostgreSQL when no DSN is configured) and install the schema:
        the arguments of `ScriptsModule.open`. Nothing happens until awaited or entered."""
        settings = Settings(
            snapshot_every=snapshot_every,
            cache_size=cache_size,
            pool_size=pool_size,
            inline_projections=inline_projections,
            projection_timeout=projection_timeout,
            auto_prune=auto_prune,
            clock=clock or DEFAULTS.clock,
        )

        async def connect() -> AsyncScriptsModule:
            resolved = await asyncio.to_thread(resolve_dsn, dsn)
            if install:
                await asyncio.to_thread(install_schema, resolved)
            db = AsyncDatabase(
                resolved, max_size=settings.pool_size, maintenance_dsn=maintenance_dsn
            )
            await db.open()
            return cls(db, EventStore(snapshot_every=settings.snapshot_every), settings)

        return Opening(connect)

    def tenant(self, tenant_id: UUID, user_id: UUID) -> AsyncTenantSession:
        """A session scoped to `tenant_id`, acting as `user_id`."""
        return AsyncTenantSession(self._session(tenant_id, user_id))

    def _session(self, tenant_id: UUID, user_id: UUID) -> AsyncSession:
        return AsyncSession(
            db=self.db,
            store=self.store,
            cache=self.cache,
            settings=self.settings,
            tenant_id=check_uuid("tenant_id", tenant_id),
            user_id=check_uuid("user_id", user_id),
        )

    # -- running scripts (schedulers and workers, across tenants) -------------------------------

    async def due(self, until: datetime, limit: int = 100) -> list[DueRun]:
        """Cron scripts of every tenant whose next slot is at or before `until`, oldest first."""
        params = workers.check_due(until, limit)
        async with self.db.maintenance() as conn:
            cursor = await conn.execute(QUERIES["due_runs"], params, prepare=True)
            return workers.due_runs(await cursor.fetchall())

    async def claim(
        self, worker: str, *, limit: int = 1, lease: timedelta | float = 60.0
    ) -> list[Execution]:
        """Move up to `limit` of the oldest pending executions (any tenant) to running for
        `worker` until `lease` ends; never one to two workers (as `ScriptsModule.claim`)."""
        name, checked, duration = workers.check_claim(worker, limit, lease)
        return await self._pick(
            workers.claiming(self.settings, name, limit=checked, lease=duration)
        )

    async def sweep(self, *, limit: int = workers.MAX_BATCH) -> list[Execution]:
        """Complete as `timeout` the running executions whose lease ended."""
        return await self._pick(workers.sweeping(self.settings, limit=limit))

    async def _pick(self, pick: workers.Pick) -> list[Execution]:
        """The same decisions and statements as the blocking driver, in one transaction."""
        async with self.db.maintenance() as conn:
            select = pick.statement(self.settings)
            cursor = await conn.execute(select.query, select.params, prepare=True)
            done, statements = pick.writes(self.store, self.settings, await cursor.fetchall())
            for statement in statements:
                await conn.execute(statement.query, statement.params, prepare=True)
        for run in done:
            self.cache.put(run)
        return done

    # -- maintenance (operators) ----------------------------------------------------------------

    async def prune_scripts(
        self,
        policy: VersionRetentionPolicy,
        *,
        tenant_id: UUID | None = None,
        dry_run: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> PruneSummary:
        """Prune the history of every script (of one tenant, or all) under `policy`."""
        summary: PruneSummary = await operate(
            self.db,
            self._session,
            maintenance.prune_all_scripts(
                policy, tenant_id=tenant_id, dry_run=dry_run, progress=progress
            ),
        )
        return summary

    async def prune_executions(
        self,
        older_than_days: int,
        *,
        keep_last_per_script: int = 0,
        tenant_id: UUID | None = None,
        dry_run: bool = False,
    ) -> PruneSummary:
        """Remove terminal executions older than `older_than_days` across tenants (or one)."""
        summary: PruneSummary = await operate(
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

    def with_clock(self, clock: Clock) -> AsyncScriptsModule:
        """The same module (same pools) with another clock; tests use it to travel in time."""
        return AsyncScriptsModule(self.db, self.store, self.settings.with_clock(clock), self.cache)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> AsyncScriptsModule:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

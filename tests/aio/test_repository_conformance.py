"""The repository contract (tests/support/conformance) run against the async repositories on
the real database, as tests/integration/test_repository_conformance.py runs it against the
blocking ones: the same promises, through the asyncio driver."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import pytest

from scripts_es import AsyncScriptsModule
from tests.aio.support import Blocking, Loop, open_async_module
from tests.support.clock import Clock
from tests.support.conformance import (
    ExecutionRepositoryContract,
    Repositories,
    ScriptRepositoryContract,
)
from tests.support.fixtures import shared_dsn  # noqa: F401 (fixture)
from tests.support.raw import row_counts, snapshot_versions, stream_versions


class OnPostgresAsync(Repositories):
    """An async tenant session's repositories, called through the loop; the raw view behind."""

    def __init__(
        self,
        module: AsyncScriptsModule,
        loop: Loop,
        dsn: str,
        clock: Clock,
        tenant_id: UUID,
        user_id: UUID,
    ) -> None:
        session = module.with_clock(clock).tenant(tenant_id, user_id)
        self.scripts = Blocking(session.scripts, loop)
        self.executions = Blocking(session.executions, loop)
        self.module, self.loop, self.dsn, self.clock = module, loop, dsn, clock
        self.tenant_id, self.user_id = tenant_id, user_id

    def stored(self) -> dict[str, int]:
        return row_counts(self.dsn)

    def event_versions(self, stream_id: UUID) -> list[int]:
        return stream_versions(self.dsn, stream_id)

    def snapshot_versions(self, stream_id: UUID) -> list[int]:
        return snapshot_versions(self.dsn, stream_id)

    @contextmanager
    def reopened(self) -> Iterator[Repositories]:
        with open_async_module(self.loop, self.dsn) as fresh:
            yield OnPostgresAsync(
                fresh, self.loop, self.dsn, self.clock, self.tenant_id, self.user_id
            )


@pytest.fixture(scope="module")
def shared_amodule(loop: Loop, dsn: str) -> Iterator[AsyncScriptsModule]:
    with open_async_module(loop, dsn) as module:
        yield module


@pytest.fixture(scope="module")
def uncached(loop: Loop, dsn: str) -> Iterator[AsyncScriptsModule]:
    """A second async module on the same database: no cache, a snapshot every 3 events."""
    with open_async_module(loop, dsn, cache_size=0, snapshot_every=3) as module:
        yield module


class TestAsyncRepositoriesOnPostgres(ScriptRepositoryContract, ExecutionRepositoryContract):
    @pytest.fixture
    def repositories(
        self,
        shared_amodule: AsyncScriptsModule,
        loop: Loop,
        dsn: str,
        clock: Clock,
        tenant_id: UUID,
        user_id: UUID,
    ) -> Repositories:
        return OnPostgresAsync(shared_amodule, loop, dsn, clock, tenant_id, user_id)


class TestAsyncRepositoriesWithoutTheCache(ScriptRepositoryContract, ExecutionRepositoryContract):
    @pytest.fixture
    def repositories(
        self,
        uncached: AsyncScriptsModule,
        loop: Loop,
        dsn: str,
        clock: Clock,
        tenant_id: UUID,
        user_id: UUID,
    ) -> Repositories:
        return OnPostgresAsync(uncached, loop, dsn, clock, tenant_id, user_id)

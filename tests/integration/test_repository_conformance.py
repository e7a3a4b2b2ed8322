"""The repository contract (tests/support/conformance) run against the real repositories on the
real database: once as the suite opens the module, once without the aggregate cache and with a
snapshot every third event, which must not change anything the repositories answer."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from uuid import UUID

import pytest

from scripts_es import ScriptsModule
from tests.support.clock import Clock
from tests.support.conformance import (
    ExecutionRepositoryContract,
    Repositories,
    ScriptRepositoryContract,
)
from tests.support.fixtures import open_module, shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import row_counts, snapshot_versions, stream_versions


class OnPostgres(Repositories):
    """A tenant session's repositories; the raw superuser view behind them."""

    def __init__(
        self, module: ScriptsModule, dsn: str, clock: Clock, tenant_id: UUID, user_id: UUID
    ) -> None:
        session = module.with_clock(clock).tenant(tenant_id, user_id)
        self.scripts, self.executions = session.scripts, session.executions
        self.module, self.dsn, self.clock = module, dsn, clock
        self.tenant_id, self.user_id = tenant_id, user_id

    def stored(self) -> dict[str, int]:
        return row_counts(self.dsn)

    def event_versions(self, stream_id: UUID) -> list[int]:
        return stream_versions(self.dsn, stream_id)

    def snapshot_versions(self, stream_id: UUID) -> list[int]:
        return snapshot_versions(self.dsn, stream_id)

    @contextmanager
    def reopened(self) -> Iterator[Repositories]:
        with ScriptsModule.open(self.dsn, install=False) as fresh:
            yield OnPostgres(fresh, self.dsn, self.clock, self.tenant_id, self.user_id)


class TestRepositoriesOnPostgres(ScriptRepositoryContract, ExecutionRepositoryContract):
    @pytest.fixture
    def repositories(
        self, module: ScriptsModule, dsn: str, clock: Clock, tenant_id: UUID, user_id: UUID
    ) -> Repositories:
        return OnPostgres(module, dsn, clock, tenant_id, user_id)


@pytest.fixture(scope="module")
def uncached(dsn: str) -> Iterator[ScriptsModule]:
    """A second module on the same database: no aggregate cache, a snapshot every 3 events."""
    with open_module(dsn, cache_size=0, snapshot_every=3) as module:
        yield module


class TestRepositoriesOnPostgresWithoutTheCache(
    ScriptRepositoryContract, ExecutionRepositoryContract
):
    @pytest.fixture
    def repositories(
        self, uncached: ScriptsModule, dsn: str, clock: Clock, tenant_id: UUID, user_id: UUID
    ) -> Repositories:
        return OnPostgres(uncached, dsn, clock, tenant_id, user_id)


def test_the_two_contracts_name_their_tests_apart() -> None:
    """A backend class inherits both: a test name in both would silently run only one of them."""
    names = [
        {name for name in vars(contract) if name.startswith("test_")}
        for contract in (ScriptRepositoryContract, ExecutionRepositoryContract)
    ]
    assert names[0].isdisjoint(names[1])

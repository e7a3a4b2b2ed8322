"""The port the contract is written against, what a backend provides, and shared helpers."""

from __future__ import annotations

from abc import ABC, abstractmethod
from contextlib import AbstractContextManager
from typing import Any, Protocol
from uuid import UUID

from scripts_es.domain import (
    CronMetadata,
    EmbeddedMetadata,
    Execution,
    HTTPMetadata,
    OneOffMetadata,
    PruneResult,
    Script,
    ScriptType,
    VersionInfo,
    VersionRetentionPolicy,
)
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.support.clock import Clock
from tests.support.commands import create_fields


class ScriptRepositoryPort(Protocol):
    """What `TenantSession.scripts` promises (DESIGN §4, §5)."""

    def create(self, script: Script) -> Script: ...
    def update(self, script: Script) -> Script: ...
    def delete(self, script_id: UUID) -> None: ...
    def find_by_id(self, script_id: UUID) -> Script: ...
    def find(self, params: ScriptFindParams | None = None) -> list[Script]: ...
    def count(self, params: ScriptFindParams | None = None) -> int: ...
    def get_version_history(self, script_id: UUID) -> list[VersionInfo]: ...
    def get_version(self, script_id: UUID, version: int) -> Script: ...
    def prune_version_history(
        self, script_id: UUID, policy: VersionRetentionPolicy
    ) -> PruneResult: ...


class ExecutionRepositoryPort(Protocol):
    """What `TenantSession.executions` promises (DESIGN §4, §5)."""

    def create(self, execution: Execution) -> Execution: ...
    def update(self, execution: Execution) -> Execution: ...
    def find_by_id(self, execution_id: UUID) -> Execution: ...
    def find_for_script(
        self, script_id: UUID, params: ExecutionFindParams | None = None
    ) -> list[Execution]: ...
    def prune(self, older_than_days: int, keep_last_per_script: int = 0) -> int: ...


class Repositories(ABC):
    """One tenant's repositories on a backend, and what the contract may look at behind them."""

    scripts: ScriptRepositoryPort
    executions: ExecutionRepositoryPort
    tenant_id: UUID
    user_id: UUID
    clock: Clock  # the time the repositories' writes carry

    @abstractmethod
    def stored(self) -> object:
        """Everything the backend stores, comparable: equal before and after = nothing written."""

    @abstractmethod
    def event_versions(self, stream_id: UUID) -> list[int]:
        """The versions of the events stored for one stream, ascending."""

    @abstractmethod
    def snapshot_versions(self, stream_id: UUID) -> list[int]:
        """The versions of the snapshots stored for one stream, ascending."""

    @abstractmethod
    def reopened(self) -> AbstractContextManager[Repositories]:
        """The same tenant's repositories from a second instance over the same storage (nothing
        shared in memory with this one)."""


# What every test can count on, whatever the backend.

CONTENT = "#!/bin/sh\necho 'ünïcödé ✓ 🚀'\n\ttabbed\r\nlast line"
DESCRIPTION = "Sends the nightly report.\nTwice, with 100% of the _data_ \\ escaped."
EXPECTED_METADATA: dict[ScriptType, Any] = {
    ScriptType.CRON: CronMetadata(cron_expression="*/5 * * * 1-5", timezone="Europe/Berlin"),
    ScriptType.HTTP: HTTPMetadata(path="/hooks/orders", method="POST"),
    ScriptType.ONE_OFF: OneOffMetadata(),
    ScriptType.EMBEDDED: EmbeddedMetadata(),
}


def new_script(
    repos: Repositories, type_: ScriptType | str = ScriptType.ONE_OFF, **fields: Any
) -> Script:
    """A new valid script of the repositories' tenant and user, at the clock's time."""
    return Script.create(
        tenant_id=repos.tenant_id,
        created_by=repos.user_id,
        **create_fields(type_, **fields),
        at=repos.clock(),
    )


def fields(script: Script) -> dict[str, Any]:
    return script.model_dump(exclude={"pending_events"})


def assert_reads_back(t: Any, script: Script) -> None:
    """Every read path returns exactly `script` (event store and read model alike); `t` is a
    `Repositories` or a `TenantSession`."""
    assert script.pending_events == ()
    assert t.scripts.find_by_id(script.id) == script
    assert t.scripts.get_version(script.id, script.version) == script
    found = [s for s in t.scripts.find(ScriptFindParams(limit=1000)) if s.id == script.id]
    assert found == [script]


def assert_execution_reads_back(t: Any, execution: Execution) -> None:
    assert execution.pending_events == ()
    assert t.executions.find_by_id(execution.id) == execution
    found = [e for e in t.executions.find_for_script(execution.script_id) if e.id == execution.id]
    assert found == [execution]

"""The async repositories: each method awaits the steps of `service/operations.py`, the same
ones the blocking repositories drive (`service/repositories.py`)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from scripts_es.aio.driver import drive
from scripts_es.aio.session import AsyncSession
from scripts_es.domain import (
    DueRun,
    Execution,
    PruneResult,
    Script,
    VersionInfo,
    VersionRetentionPolicy,
)
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from scripts_es.service import operations, retention


class AsyncScriptRepository:
    """Scripts of one tenant: writes through the event store, finds through the read model."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, script: Script) -> Script:
        """Store a new script (its pending ScriptCreated and any later pending events)."""
        saved: Script = await drive(
            self.session, operations.store(self.session, script, Script, creating=True)
        )
        return saved

    async def update(self, script: Script) -> Script:
        """Store the pending events of a script loaded earlier (optimistic concurrency)."""
        saved: Script = await drive(
            self.session, operations.store(self.session, script, Script, creating=False)
        )
        return saved

    async def delete(self, script_id: UUID) -> None:
        """Delete a script: gone from every read; its executions stay readable by id."""
        await drive(self.session, operations.delete_script(self.session, script_id))

    async def find_by_id(self, script_id: UUID) -> Script:
        """The script's current state, folded from its stream."""
        found: Script = await drive(self.session, operations.find_script(self.session, script_id))
        return found

    async def find_by_route(self, method: str, path: str) -> Script:
        """The live http script that serves `method` (any case) and `path`; NotFound if none."""
        found: Script = await drive(
            self.session, operations.find_by_route(self.session, method, path)
        )
        return found

    async def due(self, until: datetime, limit: int = 100) -> list[DueRun]:
        """This tenant's cron scripts whose next slot is at or before `until`, oldest first."""
        due: list[DueRun] = await drive(
            self.session, operations.due_runs(self.session, until, limit)
        )
        return due

    async def find(self, params: ScriptFindParams | None = None) -> list[Script]:
        """Scripts matching `params`, from the read model."""
        found: list[Script] = await drive(
            self.session, operations.find_scripts(self.session, params)
        )
        return found

    async def count(self, params: ScriptFindParams | None = None) -> int:
        """How many scripts match `params` (limit and offset ignored)."""
        counted: int = await drive(self.session, operations.count_scripts(self.session, params))
        return counted

    async def get_version_history(self, script_id: UUID) -> list[VersionInfo]:
        """Every retained version, ascending: version, when, by whom, which change."""
        history: list[VersionInfo] = await drive(
            self.session, operations.version_history(self.session, script_id)
        )
        return history

    async def get_version(self, script_id: UUID, version: int) -> Script:
        """Time travel: the script as it was at `version` (VersionPruned below the horizon)."""
        state: Script = await drive(
            self.session, operations.script_version(self.session, script_id, version)
        )
        return state

    async def prune_version_history(
        self, script_id: UUID, policy: VersionRetentionPolicy, *, dry_run: bool = False
    ) -> PruneResult:
        """Drop history below the policy's horizon (snapshot + truncation, one transaction)."""
        return (await prune_script(self.session, script_id, policy, dry_run=dry_run)).result


class AsyncExecutionRepository:
    """Executions of one tenant."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def create(self, execution: Execution) -> Execution:
        """Store a new execution; its script must exist, live and enabled, in this tenant."""
        saved: Execution = await drive(
            self.session, operations.create_execution(self.session, execution)
        )
        return saved

    async def update(self, execution: Execution) -> Execution:
        """Store the pending events of an execution loaded earlier."""
        saved: Execution = await drive(
            self.session, operations.store(self.session, execution, Execution, creating=False)
        )
        return saved

    async def find_by_id(self, execution_id: UUID) -> Execution:
        """The execution's current state, folded from its stream."""
        found: Execution = await drive(
            self.session, operations.find_execution(self.session, execution_id)
        )
        return found

    async def find_for_script(
        self, script_id: UUID, params: ExecutionFindParams | None = None
    ) -> list[Execution]:
        """Executions of one script matching `params`, from the read model."""
        found: list[Execution] = await drive(
            self.session, operations.find_executions(self.session, script_id, params)
        )
        return found

    async def prune(self, older_than_days: int, keep_last_per_script: int = 0) -> int:
        """Remove terminal executions older than that (keeping each script's newest N)."""
        pruned = await prune_executions(self.session, older_than_days, keep_last_per_script)
        return pruned.count


async def prune_script(
    session: AsyncSession, script_id: UUID, policy: VersionRetentionPolicy, *, dry_run: bool
) -> retention.Pruned:
    """Prune (or measure, with dry_run) one script's history in one transaction."""
    pruned: retention.Pruned = await drive(
        session, operations.prune_script(session, script_id, policy, dry_run=dry_run)
    )
    return pruned


async def prune_executions(
    session: AsyncSession,
    older_than_days: int,
    keep_last_per_script: int,
    *,
    dry_run: bool = False,
) -> retention.Pruned:
    """Remove (or count, with dry_run) one tenant's old terminal executions."""
    pruned: retention.Pruned = await drive(
        session,
        operations.prune_executions(
            session, older_than_days, keep_last_per_script, dry_run=dry_run
        ),
    )
    return pruned

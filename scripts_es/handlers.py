"""Command handlers: plain functions `(command, uow) -> aggregate`, registered by command type.

Each runs inside one tenant transaction (the unit of work): load, check `expected_version`,
decide through the domain, write. `handle` adds idempotency by `command_id` and retries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from scripts_es import commands as c
from scripts_es.domain import Execution, Script
from scripts_es.errors import ConcurrencyConflict, InvalidInput
from scripts_es.repositories import ExecutionRepository, ScriptRepository, Session
from scripts_es.store.database import Conn


@dataclass
class UnitOfWork:
    """The open transaction and the repositories a handler may use inside it."""

    conn: Conn
    session: Session
    scripts: ScriptRepository
    executions: ExecutionRepository
    written: Script | Execution | None = None
    use_cache: bool = False
    cached_ids: list[UUID] = field(default_factory=list)

    def save(self, aggregate: Script | Execution) -> Script | Execution:
        """Write the aggregate's pending events in this transaction."""
        repo = self.scripts if isinstance(aggregate, Script) else self.executions
        if aggregate.pending_events:
            self.written = aggregate  # before writing: a conflict reports on it
            repo.write(self.conn, aggregate)  # checks the stream's head (StreamMoved)
        elif aggregate.id in self.cached_ids:
            # A no-op decided on a cached state stands only if the stream has not moved since:
            # checked in this transaction, before anything is recorded under the command_id.
            repo.lock_head(self.conn, aggregate.id, aggregate.version)
        return aggregate.without_pending()

    @property
    def user(self) -> UUID:
        return self.session.user_id

    def now(self) -> Any:
        return self.session.clock()


def expect(aggregate: Script | Execution, expected: int | None) -> None:
    if expected is not None and aggregate.version != expected:
        raise ConcurrencyConflict(aggregate.id, expected)


def _script(cmd: c.Command, uow: UnitOfWork, script_id: UUID) -> Script:
    # Only the aggregate being written may come from the cache: its append detects staleness.
    cached = uow.use_cache
    script = uow.scripts.load(uow.conn, script_id, cached=cached)
    if cached:
        uow.cached_ids.append(script_id)
    expect(script, cmd.expected_version)
    return script


def create_script(cmd: c.CreateScript, uow: UnitOfWork) -> Script | Execution:
    if cmd.expected_version is not None:
        raise InvalidInput("expected_version", "a new script has no version to expect")
    script = Script.create(
        tenant_id=uow.session.tenant_id,
        created_by=uow.user,
        name=cmd.name,
        content=cmd.content,
        type=cmd.type,
        metadata=cmd.metadata,
        description=cmd.description,
        tags=cmd.tags,
        id=cmd.script_id,
        at=uow.now(),
    )
    return uow.save(script)


def update_content(cmd: c.UpdateScriptContent, uow: UnitOfWork) -> Script | Execution:
    script = _script(cmd, uow, cmd.script_id)
    return uow.save(script.update_content(cmd.content, uow.user, at=uow.now()))


def change_metadata(cmd: c.ChangeScriptMetadata, uow: UnitOfWork) -> Script | Execution:
    script = _script(cmd, uow, cmd.script_id)
    return uow.save(script.change_metadata(cmd.metadata, uow.user, at=uow.now()))


def change_details(cmd: c.ChangeScriptDetails, uow: UnitOfWork) -> Script | Execution:
    script = _script(cmd, uow, cmd.script_id)
    changed = script.change_details(
        by_user=uow.user, name=cmd.name, description=cmd.description, tags=cmd.tags, at=uow.now()
    )
    return uow.save(changed)


def enable_script(cmd: c.EnableScript, uow: UnitOfWork) -> Script | Execution:
    return uow.save(_script(cmd, uow, cmd.script_id).enable(uow.user, at=uow.now()))


def disable_script(cmd: c.DisableScript, uow: UnitOfWork) -> Script | Execution:
    return uow.save(_script(cmd, uow, cmd.script_id).disable(uow.user, at=uow.now()))


def delete_script(cmd: c.DeleteScript, uow: UnitOfWork) -> Script | Execution:
    return uow.save(_script(cmd, uow, cmd.script_id).delete(uow.user, at=uow.now()))


def start_execution(cmd: c.StartExecution, uow: UnitOfWork) -> Script | Execution:
    # expected_version, if given, is the script version the caller means to run. The script
    # is held (shared) until commit, so a concurrent disable or delete lands before or after.
    script = uow.executions.runnable(uow.conn, cmd.script_id)
    expect(script, cmd.expected_version)
    opener = Execution.enqueue if isinstance(cmd, c.EnqueueExecution) else Execution.start
    execution = opener(
        script=script,
        trigger=cmd.trigger.model_dump(),
        input=cmd.input,
        id=cmd.execution_id,
        at=uow.now(),
    )
    return uow.save(execution)


def _execution(cmd: c.Command, uow: UnitOfWork, execution_id: UUID) -> Execution:
    execution = uow.executions.load(uow.conn, execution_id, cached=uow.use_cache)
    if uow.use_cache:
        uow.cached_ids.append(execution_id)
    expect(execution, cmd.expected_version)
    return execution


def begin_execution(cmd: c.BeginExecution, uow: UnitOfWork) -> Script | Execution:
    return uow.save(_execution(cmd, uow, cmd.execution_id).begin(at=uow.now()))


def complete_execution(cmd: c.CompleteExecution, uow: UnitOfWork) -> Script | Execution:
    execution = _execution(cmd, uow, cmd.execution_id)
    return uow.save(execution.complete(cmd.status, cmd.result, at=uow.now()))


Handler = Callable[[Any, UnitOfWork], Script | Execution]

HANDLERS: dict[type[c.Command], Handler] = {
    c.CreateScript: create_script,
    c.UpdateScriptContent: update_content,
    c.ChangeScriptMetadata: change_metadata,
    c.ChangeScriptDetails: change_details,
    c.EnableScript: enable_script,
    c.DisableScript: disable_script,
    c.DeleteScript: delete_script,
    c.StartExecution: start_execution,
    c.EnqueueExecution: start_execution,
    c.BeginExecution: begin_execution,
    c.CompleteExecution: complete_execution,
}

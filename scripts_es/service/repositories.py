"""The seed's repositories: writes store an aggregate's pending events through the pipeline,
`find_by_id` folds the stream, find/count/find_for_script read the read model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from projections import decode, finders
from scripts_es.domain import Execution, PruneResult, Script, VersionInfo, VersionRetentionPolicy
from scripts_es.domain.schedule import DueRun
from scripts_es.domain.values import HTTPMetadata
from scripts_es.errors import InvalidInput, NotFound
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from scripts_es.service import handlers, pipeline, reads, retention, workers
from scripts_es.service.session import Session, check_uuid
from scripts_es.service.steps import Aggregate, Context, Steps
from scripts_es.service.unit_of_work import current_state, fetch, read
from scripts_es.store.database import QUERIES

ParamsT = TypeVar("ParamsT", ScriptFindParams, ExecutionFindParams)
AggregateT = TypeVar("AggregateT", Script, Execution)


def check_params(params: object, cls: type[ParamsT]) -> ParamsT:
    if params is None:
        return cls()
    if not isinstance(params, cls):
        raise InvalidInput("params", f"must be a {cls.__name__}")
    return params


def check_new_or_loaded(session: Session, aggregate: object, *, creating: bool) -> Aggregate:
    """The aggregate a caller hands to create/update, checked against the session's tenant."""
    if not isinstance(aggregate, Script | Execution):
        raise InvalidInput("aggregate", "must be a Script or an Execution")
    kind = "script" if isinstance(aggregate, Script) else "execution"
    if aggregate.tenant_id != session.tenant_id:
        if creating:
            raise InvalidInput("tenant_id", f"the {kind} belongs to another tenant")
        raise NotFound(kind, aggregate.id)
    first = aggregate.pending_events[0].originator_version if aggregate.pending_events else None
    if creating and first != 1:
        raise InvalidInput("pending_events", "create needs a new aggregate (version 1 pending)")
    if not creating and first == 1:
        raise InvalidInput("pending_events", "update needs a loaded aggregate; use create")
    return aggregate


class ScriptRepository:
    """Scripts of one tenant: writes through the event store, finds through the read model."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, script: Script) -> Script:
        """Store a new script (its pending ScriptCreated and any later pending events)."""
        return store(self.session, script, Script, creating=True)

    def update(self, script: Script) -> Script:
        """Store the pending events of a script loaded earlier (optimistic concurrency)."""
        return store(self.session, script, Script, creating=False)

    def delete(self, script_id: UUID) -> None:
        """Delete a script: gone from every read; its executions stay readable by id."""
        session = self.session
        self.update(self.find_by_id(script_id).delete(session.user_id, at=session.clock()))

    def find_by_id(self, script_id: UUID) -> Script:
        """The script's current state, folded from its stream."""
        state = current_state(self.session, "script", check_uuid("script_id", script_id))
        if not isinstance(state, Script) or state.is_deleted:
            raise NotFound("script", script_id)
        return state

    def find_by_route(self, method: str, path: str) -> Script:
        """The live http script that serves `method` (any case) and `path`; NotFound if none."""
        route = HTTPMetadata(method=method, path=path)  # InvalidInput for a malformed route
        rows = fetch(
            self.session,
            QUERIES["find_route"],
            {"tenant_id": self.session.tenant_id, "method": route.method, "path": route.path},
        )
        state = current_state(self.session, "script", rows[0][0]) if rows else None
        if not isinstance(state, Script) or state.is_deleted:
            raise NotFound("route", f"{route.method} {route.path}")
        return state

    def due(self, until: datetime, limit: int = 100) -> list[DueRun]:
        """This tenant's cron scripts whose next slot is at or before `until`, oldest first."""
        rows = fetch(self.session, QUERIES["due_runs"], workers.check_due(until, limit))
        return workers.due_runs(rows)

    def find(self, params: ScriptFindParams | None = None) -> list[Script]:
        """Scripts matching `params`, from the read model."""
        checked = check_params(params, ScriptFindParams)
        self.session.await_projection()
        rows = fetch(self.session, *finders.find_scripts_sql(self.session.tenant_id, checked))
        return [decode.script_from_row(row) for row in rows]

    def count(self, params: ScriptFindParams | None = None) -> int:
        """How many scripts match `params` (limit and offset ignored)."""
        checked = check_params(params, ScriptFindParams)
        self.session.await_projection()
        query = finders.count_scripts_sql(self.session.tenant_id, checked)
        return int(fetch(self.session, *query)[0][0])

    def get_version_history(self, script_id: UUID) -> list[VersionInfo]:
        """Every retained version, ascending: version, when, by whom, which change."""
        script_id = check_uuid("script_id", script_id)
        self.session.await_projection()
        rows = read(self.session, lambda: reads.history(self.session.tenant_id, script_id))
        return [
            VersionInfo(version=version, updated_at=at, updated_by=by, change=change)
            for version, at, by, change in rows
        ]

    def get_version(self, script_id: UUID, version: int) -> Script:
        """Time travel: the script as it was at `version` (VersionPruned below the horizon)."""
        script_id = check_uuid("script_id", script_id)
        state: Script = read(self.session, lambda: reads.version(script_id, version))
        return state

    def prune_version_history(
        self, script_id: UUID, policy: VersionRetentionPolicy, *, dry_run: bool = False
    ) -> PruneResult:
        """Drop history below the policy's horizon (snapshot + truncation, one transaction)."""
        return prune_script(self.session, script_id, policy, dry_run=dry_run).result


class ExecutionRepository:
    """Executions of one tenant."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def create(self, execution: Execution) -> Execution:
        """Store a new execution; its script must exist, live and enabled, in this tenant."""

        def runnable() -> Steps:  # called once `execution` is known to be an Execution
            return handlers.runnable_script(execution.script_id)

        return store(self.session, execution, Execution, creating=True, first=runnable)

    def update(self, execution: Execution) -> Execution:
        """Store the pending events of an execution loaded earlier."""
        return store(self.session, execution, Execution, creating=False)

    def find_by_id(self, execution_id: UUID) -> Execution:
        """The execution's current state, folded from its stream."""
        state = current_state(self.session, "execution", check_uuid("execution_id", execution_id))
        if not isinstance(state, Execution):
            raise NotFound("execution", execution_id)
        return state

    def find_for_script(
        self, script_id: UUID, params: ExecutionFindParams | None = None
    ) -> list[Execution]:
        """Executions of one script matching `params`, from the read model."""
        check_uuid("script_id", script_id)
        checked = check_params(params, ExecutionFindParams)
        self.session.await_projection()
        query = finders.find_executions_sql(self.session.tenant_id, script_id, checked)
        return [decode.execution_from_row(row) for row in fetch(self.session, *query)]

    def prune(self, older_than_days: int, keep_last_per_script: int = 0) -> int:
        """Remove terminal executions older than that (keeping each script's newest N)."""
        return prune_executions(self.session, older_than_days, keep_last_per_script).count


def prune_script(
    session: Session, script_id: UUID, policy: VersionRetentionPolicy, *, dry_run: bool
) -> retention.Pruned:
    """Prune (or measure, with dry_run) one script's history in one transaction."""
    script_id = check_uuid("script_id", script_id)
    retention.check_policy(policy)
    return _pruned(
        session, lambda ctx: retention.prune_script(script_id, policy, ctx, dry_run=dry_run)
    )


def prune_executions(
    session: Session, older_than_days: int, keep_last_per_script: int, *, dry_run: bool = False
) -> retention.Pruned:
    """Remove (or count, with dry_run) one tenant's old terminal executions."""
    retention.check_execution_retention(older_than_days, keep_last_per_script)
    return _pruned(
        session,
        lambda ctx: retention.prune_executions(
            ctx, older_than_days, keep_last_per_script, dry_run=dry_run
        ),
    )


def _pruned(session: Session, prune: Callable[[Context], Steps]) -> retention.Pruned:
    """Run a prune's steps through the pipeline; the `Pruned` of the attempt that committed."""
    outcome: list[retention.Pruned] = []

    def decide(ctx: Context) -> Steps:
        outcome.clear()
        pruned: retention.Pruned = yield from prune(ctx)
        outcome.append(pruned)
        return pruned.decision

    pipeline.save(session, decide, retried=False)  # see pipeline.handle: prunes are not retried
    return outcome[-1]


def store(
    session: Session,
    aggregate: object,
    model: type[AggregateT],
    *,
    creating: bool,
    first: Callable[[], Steps] | None = None,
) -> AggregateT:
    """Store the pending events of a caller's own aggregate (its conflicts are the caller's);
    `first` runs in the same transaction and may refuse the write."""
    if not isinstance(aggregate, model):
        article = "an" if model.__name__[0] in "AEIOU" else "a"
        raise InvalidInput(model.__name__.lower(), f"must be {article} {model.__name__}")
    checked = check_new_or_loaded(session, aggregate, creating=creating)
    if not checked.pending_events:
        return aggregate

    def decide(_ctx: Context) -> Steps:
        if first is not None:
            yield from first()
        return handlers.saved(checked)

    saved = pipeline.save(session, decide)
    assert isinstance(saved, model)
    return saved

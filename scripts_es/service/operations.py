"""Every repository call as outer steps, written once: checks, reads, decoding and writes.

The blocking repositories (`repositories.py`) and the asyncio ones (`scripts_es/aio/`) are
one line per method over these: `drive(session, operations.find_script(session, id))`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from projections import decode, finders
from scripts_es.domain import Execution, Script, VersionInfo, VersionRetentionPolicy
from scripts_es.domain.values import HTTPMetadata
from scripts_es.errors import InvalidInput, NotFound
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from scripts_es.service import handlers, pipeline, reads, retention, workers
from scripts_es.service.session import Scope, check_uuid, projected
from scripts_es.service.steps import Aggregate, Context, Kind, Outer, Steps
from scripts_es.service.transaction import FOLDS
from scripts_es.store.database import QUERIES

ParamsT = TypeVar("ParamsT", ScriptFindParams, ExecutionFindParams)


def check_params(params: object, cls: type[ParamsT]) -> ParamsT:
    if params is None:
        return cls()
    if not isinstance(params, cls):
        raise InvalidInput("params", f"must be a {cls.__name__}")
    return params


def check_new_or_loaded(scope: Scope, aggregate: object, *, creating: bool) -> Aggregate:
    """The aggregate a caller hands to create/update, checked against the session's tenant."""
    if not isinstance(aggregate, Script | Execution):
        raise InvalidInput("aggregate", "must be a Script or an Execution")
    kind = "script" if isinstance(aggregate, Script) else "execution"
    if aggregate.tenant_id != scope.tenant_id:
        if creating:
            raise InvalidInput("tenant_id", f"the {kind} belongs to another tenant")
        raise NotFound(kind, aggregate.id)
    first = aggregate.pending_events[0].originator_version if aggregate.pending_events else None
    if creating and first != 1:
        raise InvalidInput("pending_events", "create needs a new aggregate (version 1 pending)")
    if not creating and first == 1:
        raise InvalidInput("pending_events", "update needs a loaded aggregate; use create")
    return aggregate


def current_state(scope: Scope, kind: Kind, stream_id: UUID) -> Outer:
    """A stream's current state in one round trip (reads never use the command cache)."""
    params = scope.store.load_params(scope.tenant_id, stream_id)
    rows = yield from pipeline.fetch(scope, QUERIES["load_stream"], params)
    state: Aggregate | None = scope.store.fold_rows(stream_id, rows, FOLDS[kind]).state
    return state


# -- scripts --------------------------------------------------------------------------------


def find_script(scope: Scope, script_id: object) -> Outer:
    """The script's current state, folded from its stream; NotFound if absent or deleted."""
    checked = check_uuid("script_id", script_id)
    state = yield from current_state(scope, "script", checked)
    if not isinstance(state, Script) or state.is_deleted:
        raise NotFound("script", checked)
    return state


def find_by_route(scope: Scope, method: str, path: str) -> Outer:
    """The live http script that serves `method` (any case) and `path`; NotFound if none."""
    route = HTTPMetadata(method=method, path=path)  # InvalidInput for a malformed route
    key = {"tenant_id": scope.tenant_id, "method": route.method, "path": route.path}
    rows = yield from pipeline.fetch(scope, QUERIES["find_route"], key)
    state = (yield from current_state(scope, "script", rows[0][0])) if rows else None
    if not isinstance(state, Script) or state.is_deleted:
        raise NotFound("route", f"{route.method} {route.path}")
    return state


def due_runs(scope: Scope, until: datetime, limit: int) -> Outer:
    """This tenant's cron scripts whose next slot is at or before `until`, oldest first."""
    rows = yield from pipeline.fetch(scope, QUERIES["due_runs"], workers.check_due(until, limit))
    return workers.due_runs(rows)


def find_scripts(scope: Scope, params: object) -> Outer:
    """Scripts matching `params`, from the read model."""
    checked = check_params(params, ScriptFindParams)
    yield from projected(scope)
    rows = yield from pipeline.fetch(scope, *finders.find_scripts_sql(scope.tenant_id, checked))
    return [decode.script_from_row(row) for row in rows]


def count_scripts(scope: Scope, params: object) -> Outer:
    """How many scripts match `params` (limit and offset ignored)."""
    checked = check_params(params, ScriptFindParams)
    yield from projected(scope)
    query = finders.count_scripts_sql(scope.tenant_id, checked)
    return int((yield from pipeline.fetch(scope, *query))[0][0])


def version_history(scope: Scope, script_id: object) -> Outer:
    """Every retained version, ascending: version, when, by whom, which change."""
    checked = check_uuid("script_id", script_id)
    yield from projected(scope)
    rows = yield from pipeline.read(scope, lambda: reads.history(scope.tenant_id, checked))
    return [
        VersionInfo(version=version, updated_at=at, updated_by=by, change=change)
        for version, at, by, change in rows
    ]


def script_version(scope: Scope, script_id: object, version: int) -> Outer:
    """Time travel: the script as it was at `version` (VersionPruned below the horizon)."""
    checked = check_uuid("script_id", script_id)
    state: Script = yield from pipeline.read(scope, lambda: reads.version(checked, version))
    return state


def delete_script(scope: Scope, script_id: object) -> Outer:
    """Delete a script: gone from every read; its executions stay readable by id."""
    script: Script = yield from find_script(scope, script_id)
    deleted = script.delete(scope.user_id, at=scope.settings.clock())
    yield from store(scope, deleted, Script, creating=False)


# -- executions -----------------------------------------------------------------------------


def find_execution(scope: Scope, execution_id: object) -> Outer:
    """The execution's current state, folded from its stream; NotFound if absent."""
    checked = check_uuid("execution_id", execution_id)
    state = yield from current_state(scope, "execution", checked)
    if not isinstance(state, Execution):
        raise NotFound("execution", checked)
    return state


def find_executions(scope: Scope, script_id: object, params: object) -> Outer:
    """Executions of one script matching `params`, from the read model."""
    checked_id = check_uuid("script_id", script_id)
    checked = check_params(params, ExecutionFindParams)
    yield from projected(scope)
    query = finders.find_executions_sql(scope.tenant_id, checked_id, checked)
    return [decode.execution_from_row(row) for row in (yield from pipeline.fetch(scope, *query))]


def create_execution(scope: Scope, execution: object) -> Outer:
    """Store a new execution; its script must exist, live and enabled, in this tenant."""

    def runnable() -> Steps:  # called once `execution` is known to be an Execution
        assert isinstance(execution, Execution)
        return handlers.runnable_script(execution.script_id)

    return store(scope, execution, Execution, creating=True, first=runnable)


# -- writes and prunes ----------------------------------------------------------------------


def store(
    scope: Scope,
    aggregate: object,
    model: type[Any],
    *,
    creating: bool,
    first: Callable[[], Steps] | None = None,
) -> Outer:
    """Store the pending events of a caller's own aggregate (its conflicts are the caller's);
    `first` runs in the same transaction and may refuse the write."""
    if not isinstance(aggregate, model):
        article = "an" if model.__name__[0] in "AEIOU" else "a"
        raise InvalidInput(model.__name__.lower(), f"must be {article} {model.__name__}")
    checked = check_new_or_loaded(scope, aggregate, creating=creating)
    if not checked.pending_events:
        return aggregate

    def decide(_ctx: Context) -> Steps:
        if first is not None:
            yield from first()
        return handlers.saved(checked)

    saved = yield from pipeline.save(scope, decide)
    assert isinstance(saved, model)
    return saved


def prune_script(
    scope: Scope, script_id: object, policy: VersionRetentionPolicy, *, dry_run: bool
) -> Outer:
    """Prune (or measure, with dry_run) one script's history in one transaction: `Pruned`."""
    checked = check_uuid("script_id", script_id)
    retention.check_policy(policy)
    return _pruned(scope, lambda ctx: retention.prune_script(checked, policy, ctx, dry_run=dry_run))


def prune_executions(
    scope: Scope, older_than_days: int, keep_last_per_script: int, *, dry_run: bool = False
) -> Outer:
    """Remove (or count, with dry_run) one tenant's old terminal executions: `Pruned`."""
    retention.check_execution_retention(older_than_days, keep_last_per_script)
    return _pruned(
        scope,
        lambda ctx: retention.prune_executions(
            ctx, older_than_days, keep_last_per_script, dry_run=dry_run
        ),
    )


def _pruned(scope: Scope, prune: Callable[[Context], Steps]) -> Outer:
    """Run a prune's steps through the pipeline; the `Pruned` of the attempt that committed."""
    outcome: list[retention.Pruned] = []

    def decide(ctx: Context) -> Steps:
        outcome.clear()
        pruned: retention.Pruned = yield from prune(ctx)
        outcome.append(pruned)
        return pruned.decision

    # See pipeline.handle: prunes are not retried.
    yield from pipeline.save(scope, decide, retried=False)
    return outcome[-1]

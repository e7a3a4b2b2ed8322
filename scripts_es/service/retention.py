"""Retention (DESIGN §5): prune script history behind a snapshot; remove old executions.

A script prune is a decision like any command's: hold the stream exclusively, load the current
state, compute the horizon from the stored versions, and decide a snapshot at the horizon plus
the truncation below it and an audit row, all in one transaction. Current state and every
current read-model row are untouched, so nothing a reader sees changes except the history.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from psycopg.types.json import Jsonb

from scripts_es import commands
from scripts_es.domain import Execution, PruneResult, Script, VersionRetentionPolicy
from scripts_es.domain import validation as v
from scripts_es.errors import ConcurrencyConflict, InvalidInput, NotFound
from scripts_es.service.steps import Context, Decision, Fetch, Hold, Load, Loaded, Statement, Steps
from scripts_es.store.sql import load

QUERIES = load("scripts_es.service", "retention.sql")
OPERATOR = UUID(int=0)  # acting user recorded for prunes run by an operator (CLI)
TRUNCATION = ("delete_events_below", "delete_snapshots_below", "delete_versions_below")
EXECUTION_REMOVAL = (
    "delete_execution_streams",
    "delete_execution_snapshots",
    "delete_execution_rows",
)


@dataclass(frozen=True)
class Pruned:
    """A prune decided: what to write, and how many bytes of events it frees."""

    decision: Decision
    bytes_freed: int

    @property
    def count(self) -> int:
        """How many executions an execution prune removes."""
        assert isinstance(self.decision.result, int)
        return self.decision.result

    @property
    def result(self) -> PruneResult:
        """The script prune's answer (`decision.result` is a count for executions)."""
        assert isinstance(self.decision.result, PruneResult)
        return self.decision.result


def check_policy(policy: object) -> VersionRetentionPolicy:
    if not isinstance(policy, VersionRetentionPolicy):
        raise InvalidInput("policy", "must be a VersionRetentionPolicy")
    if policy.max_versions is None and policy.retention_days is None:
        raise InvalidInput("policy", "set max_versions and/or retention_days")
    return policy


def policy_of(command: commands.PruneScriptHistory) -> VersionRetentionPolicy:
    return check_policy(
        VersionRetentionPolicy(
            max_versions=command.max_versions, retention_days=command.retention_days
        )
    )


def check_execution_retention(older_than_days: object, keep_last_per_script: object) -> None:
    """0..MAX_DAYS days (the cutoff must stay a datetime), 0..bigint executions kept."""
    v.days("older_than_days", older_than_days, minimum=0)
    v.bigint("keep_last_per_script", keep_last_per_script)


def prune_script(
    script_id: UUID,
    policy: VersionRetentionPolicy,
    ctx: Context,
    *,
    expected: int | None = None,
    dry_run: bool = False,
) -> Steps:
    """Decide one script's prune (or only measure it, with dry_run): returns `Pruned`."""
    check_policy(policy)
    key = {"tenant_id": ctx.tenant_id, "stream_id": script_id}
    yield Hold(script_id, shared=False)
    loaded: Loaded = yield Load("script", script_id)
    current = loaded.state
    if not isinstance(current, Script) or current.is_deleted:
        raise NotFound("script", script_id)
    if expected is not None and current.version != expected:
        raise ConcurrencyConflict(script_id, expected)
    stamps = dict((yield Fetch(QUERIES["stored_versions"], key)))
    horizon = policy.horizon(stamps, current.version, ctx.now())
    ((removed, size),) = yield Fetch(QUERIES["doomed_size"], {**key, "horizon": horizon})
    result = PruneResult(script_id=script_id, horizon=horizon, removed=removed)
    if dry_run:
        return Pruned(Decision(result), int(size))
    snapshots: tuple[Script | Execution, ...] = ()
    statements: list[Statement] = []
    if removed:
        at_horizon: Loaded = yield Load("script", script_id, upto=horizon)
        assert at_horizon.state is not None and at_horizon.state.version == horizon
        snapshots = (at_horizon.state,)
        cut = {**key, "horizon": horizon}
        statements = [Statement(QUERIES[name], cut) for name in TRUNCATION]
    audit = {
        **key,
        "now": ctx.now(),
        "user_id": ctx.user_id,
        "policy": Jsonb(policy.model_dump()),
        "horizon": horizon,
        "removed": removed,
    }
    statements.append(Statement(QUERIES["audit"], audit))
    return Pruned(Decision(result, snapshots=snapshots, statements=tuple(statements)), int(size))


def prune_executions(
    ctx: Context, older_than_days: int, keep_last_per_script: int, *, dry_run: bool
) -> Steps:
    """Decide the removal of one tenant's old terminal executions (streams and rows): returns
    `Pruned` whose result is how many."""
    check_execution_retention(older_than_days, keep_last_per_script)
    cutoff = ctx.now() - timedelta(days=older_than_days)
    doomed = {"tenant_id": ctx.tenant_id, "cutoff": cutoff, "keep": keep_last_per_script}
    ids = [row[0] for row in (yield Fetch(QUERIES["doomed_executions"], doomed))]
    if not ids:
        return Pruned(Decision(0), 0)
    params = {"tenant_id": ctx.tenant_id, "ids": ids}
    yield Fetch(QUERIES["lock_streams"], params)  # not while the runner projects them
    ((_, size),) = yield Fetch(QUERIES["execution_size"], params)
    names = () if dry_run else EXECUTION_REMOVAL
    statements = tuple(Statement(QUERIES[name], params) for name in names)
    return Pruned(Decision(len(ids), statements=statements), int(size))

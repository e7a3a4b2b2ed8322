"""Retention (DESIGN §5): prune script history behind a snapshot; remove old executions.

A script prune is one tenant transaction: snapshot the state at the horizon, delete older events
and snapshots, drop the read model's older version rows, write an audit row. Current state and
every current read-model row are untouched, so nothing a reader sees changes except the history.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg.types.json import Jsonb

from scripts_es.domain import PruneResult, VersionRetentionPolicy
from scripts_es.domain import script as script_fold
from scripts_es.domain import validation as v
from scripts_es.errors import ConcurrencyConflict, InvalidInput, NotFound
from scripts_es.reports import PruneSummary
from scripts_es.store.sql import load, one

if TYPE_CHECKING:
    from scripts_es.module import ScriptsModule
    from scripts_es.repositories import ExecutionRepository, ScriptRepository

Q = load("scripts_es", "retention.sql")
OPERATOR = UUID(int=0)  # acting user recorded for prunes run by an operator (CLI)


@dataclass(frozen=True)
class Pruned:
    result: PruneResult
    bytes_freed: int


def check_policy(policy: object) -> VersionRetentionPolicy:
    if not isinstance(policy, VersionRetentionPolicy):
        raise InvalidInput("policy", "must be a VersionRetentionPolicy")
    if policy.max_versions is None and policy.retention_days is None:
        raise InvalidInput("policy", "set max_versions and/or retention_days")
    return policy


def prune_script(
    repo: ScriptRepository,
    script_id: UUID,
    policy: VersionRetentionPolicy,
    *,
    dry_run: bool,
    expected_version: int | None = None,
    also: Callable[[Any, PruneResult], None] | None = None,
) -> Pruned:
    """Prune one script's history in one transaction (or only measure it, with dry_run).

    `also` runs inside the same transaction (the command log uses it).
    """
    s = repo.s
    check_policy(policy)
    key = {"tenant_id": s.tenant_id, "stream_id": script_id}
    with s.db.tenant(s.tenant_id) as conn:
        conn.execute(Q["lock_stream"], key)
        current = repo.load(conn, script_id)
        if expected_version is not None and current.version != expected_version:
            raise ConcurrencyConflict(script_id, expected_version)
        stamps = dict(conn.execute(Q["stored_versions"], key).fetchall())
        horizon = policy.horizon(stamps, current.version, s.clock())
        removed, size = one(conn.execute(Q["doomed_size"], {**key, "horizon": horizon}))
        result = PruneResult(script_id=script_id, horizon=horizon, removed=removed)
        if dry_run:
            return Pruned(result, size)
        if removed:
            at_horizon = s.store.load(conn, s.tenant_id, script_id, script_fold.fold, upto=horizon)
            assert at_horizon.state is not None and at_horizon.state.version == horizon
            s.store.snapshot(conn, s.tenant_id, at_horizon.state)
            for name in ("delete_events_below", "delete_snapshots_below", "delete_versions_below"):
                conn.execute(Q[name], {**key, "horizon": horizon})
        conn.execute(
            Q["audit"],
            {
                **key,
                "now": s.clock(),
                "user_id": s.user_id,
                "policy": Jsonb(policy.model_dump()),
                "horizon": horizon,
                "removed": removed,
            },
        )
        if also is not None:
            also(conn, result)
    return Pruned(result, size)


def check_tenant_filter(tenant_id: object) -> None:
    """An operator run covers one tenant (a UUID) or all of them (None)."""
    if tenant_id is not None and not isinstance(tenant_id, UUID):
        raise InvalidInput("tenant_id", "must be a UUID, or None for every tenant")


def check_execution_retention(older_than_days: object, keep_last_per_script: object) -> None:
    """0..MAX_DAYS days (the cutoff must stay a datetime), 0..bigint executions kept."""
    v.days("older_than_days", older_than_days, minimum=0)
    v.bigint("keep_last_per_script", keep_last_per_script)


def prune_executions(
    repo: ExecutionRepository, older_than_days: int, keep_last_per_script: int, *, dry_run: bool
) -> tuple[int, int]:
    """Remove one tenant's old terminal executions (streams and rows); (count, bytes)."""
    check_execution_retention(older_than_days, keep_last_per_script)
    s = repo.s
    cutoff = s.clock() - timedelta(days=older_than_days)
    with s.db.tenant(s.tenant_id) as conn:
        rows = conn.execute(
            Q["doomed_executions"],
            {"tenant_id": s.tenant_id, "cutoff": cutoff, "keep": keep_last_per_script},
        ).fetchall()
        ids = [row[0] for row in rows]
        if not ids:
            return 0, 0
        params = {"tenant_id": s.tenant_id, "ids": ids}
        conn.execute(Q["lock_streams"], params)  # not while the runner projects them
        _, size = one(conn.execute(Q["execution_size"], params))
        if not dry_run:
            for name in ("delete_execution_streams", "delete_execution_snapshots"):
                conn.execute(Q[name], params)
            conn.execute(Q["delete_execution_rows"], params)
    return len(ids), int(size)


def prune_all_scripts(
    module: ScriptsModule,
    policy: VersionRetentionPolicy,
    *,
    tenant_id: UUID | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PruneSummary:
    """Operator prune across tenants: each script in its own tenant transaction.

    The targets are listed first, then pruned one by one: a script deleted (or gone with its
    tenant) in between is skipped and counted in `skipped`, never an abort of the whole run.
    """
    check_policy(policy)
    check_tenant_filter(tenant_id)
    with module.db.maintenance() as conn:
        targets = conn.execute(Q["tenants_with_scripts"], {"tenant_id": tenant_id}).fetchall()
    touched = removed = freed = skipped = 0
    sessions: dict[UUID, ScriptRepository] = {}
    for done, (tenant, script_id) in enumerate(targets, start=1):
        if tenant not in sessions:
            sessions[tenant] = module.tenant(tenant, OPERATOR).scripts
        try:
            pruned = prune_script(sessions[tenant], script_id, policy, dry_run=dry_run)
        except NotFound:  # deleted since it was listed
            skipped += 1
        else:
            if pruned.result.removed:
                touched += 1
                removed += pruned.result.removed
                freed += pruned.bytes_freed
        if progress:
            progress(done, len(targets))
    return PruneSummary(dry_run, touched, removed, 0, freed, skipped=skipped)


def prune_all_executions(
    module: ScriptsModule,
    older_than_days: int,
    *,
    keep_last_per_script: int = 0,
    tenant_id: UUID | None = None,
    dry_run: bool = False,
) -> PruneSummary:
    """Operator prune of old terminal executions across tenants (one transaction per tenant).

    Each tenant's doomed executions are selected inside its own transaction, so a tenant whose
    executions went away after the listing simply has nothing to remove (no error, no skip).
    """
    check_execution_retention(older_than_days, keep_last_per_script)
    check_tenant_filter(tenant_id)
    with module.db.maintenance() as conn:
        tenants = [
            row[0] for row in conn.execute(Q["tenants_with_executions"], {"tenant_id": tenant_id})
        ]
    removed = freed = 0
    for tenant in tenants:
        count, size = prune_executions(
            module.tenant(tenant, OPERATOR).executions,
            older_than_days,
            keep_last_per_script,
            dry_run=dry_run,
        )
        removed += count
        freed += size
    return PruneSummary(dry_run, 0, 0, removed, freed)

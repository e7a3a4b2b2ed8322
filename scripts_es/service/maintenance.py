"""Operator work across tenants (the CLI's prunes), as operator steps (`steps.Operator`): list
with the maintenance role, then act in each tenant's own session, one transaction per script
or tenant. A driver runs them (`unit_of_work.operate`, `aio.driver.operate`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from scripts_es.domain import VersionRetentionPolicy
from scripts_es.domain import validation as v
from scripts_es.errors import NotFound
from scripts_es.reports import PruneSummary
from scripts_es.service import operations, retention
from scripts_es.service.retention import OPERATOR, QUERIES
from scripts_es.service.session import Scope
from scripts_es.service.steps import Fetch, InTenant, Maintenance, Operator, Outer, SqlSteps


def listed(query: str, params: dict[str, Any]) -> Callable[[], SqlSteps]:
    """The rows of one maintenance query."""

    def steps() -> SqlSteps:
        return (yield Fetch(query, params))

    return steps


def prune_all_scripts(
    policy: VersionRetentionPolicy,
    *,
    tenant_id: UUID | None = None,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Operator:
    """Operator prune across tenants: each script in its own tenant transaction.

    The targets are listed first, then pruned one by one: a script deleted (or gone with its
    tenant) in between is skipped and counted in `skipped`, never an abort of the whole run.
    """
    retention.check_policy(policy)
    v.tenant_filter(tenant_id)
    targets = yield Maintenance(listed(QUERIES["tenants_with_scripts"], {"tenant_id": tenant_id}))
    touched = removed = freed = skipped = 0
    for done, (tenant, script_id) in enumerate(targets, start=1):

        def prune(scope: Scope, script_id: UUID = script_id) -> Outer:
            return operations.prune_script(scope, script_id, policy, dry_run=dry_run)

        try:
            pruned: retention.Pruned = yield InTenant(tenant, OPERATOR, prune)
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
    older_than_days: int,
    *,
    keep_last_per_script: int = 0,
    tenant_id: UUID | None = None,
    dry_run: bool = False,
) -> Operator:
    """Operator prune of old terminal executions across tenants (one transaction per tenant).

    Each tenant's doomed executions are selected inside its own transaction, so a tenant whose
    executions went away after the listing simply has nothing to remove (no error, no skip).
    """
    retention.check_execution_retention(older_than_days, keep_last_per_script)
    v.tenant_filter(tenant_id)
    query = QUERIES["tenants_with_executions"]
    tenants = [row[0] for row in (yield Maintenance(listed(query, {"tenant_id": tenant_id})))]

    def prune(scope: Scope) -> Outer:
        return operations.prune_executions(
            scope, older_than_days, keep_last_per_script, dry_run=dry_run
        )

    removed = freed = 0
    for tenant in tenants:
        pruned: retention.Pruned = yield InTenant(tenant, OPERATOR, prune)
        removed += pruned.count
        freed += pruned.bytes_freed
    return PruneSummary(dry_run, 0, 0, removed, freed)

"""Operator work across tenants (the CLI's prunes): list with the maintenance role, then act in
each tenant's own session, one transaction per script or tenant."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from scripts_es.domain import VersionRetentionPolicy
from scripts_es.domain import validation as v
from scripts_es.errors import NotFound
from scripts_es.reports import PruneSummary
from scripts_es.service import repositories, retention
from scripts_es.service.retention import OPERATOR, QUERIES
from scripts_es.service.session import Session
from scripts_es.store.database import Database

SessionFor = Callable[[UUID, UUID], Session]  # (tenant_id, user_id) -> a tenant session


def prune_all_scripts(
    db: Database,
    session_for: SessionFor,
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
    retention.check_policy(policy)
    v.tenant_filter(tenant_id)
    with db.maintenance() as conn:
        targets = conn.execute(QUERIES["tenants_with_scripts"], {"tenant_id": tenant_id}).fetchall()
    touched = removed = freed = skipped = 0
    sessions: dict[UUID, Session] = {}
    for done, (tenant, script_id) in enumerate(targets, start=1):
        if tenant not in sessions:
            sessions[tenant] = session_for(tenant, OPERATOR)
        session = sessions[tenant]
        try:
            pruned = repositories.prune_script(session, script_id, policy, dry_run=dry_run)
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
    db: Database,
    session_for: SessionFor,
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
    retention.check_execution_retention(older_than_days, keep_last_per_script)
    v.tenant_filter(tenant_id)
    with db.maintenance() as conn:
        listed = conn.execute(QUERIES["tenants_with_executions"], {"tenant_id": tenant_id})
        tenants = [row[0] for row in listed]
    removed = freed = 0
    for tenant in tenants:
        pruned = repositories.prune_executions(
            session_for(tenant, OPERATOR),
            older_than_days,
            keep_last_per_script,
            dry_run=dry_run,
        )
        removed += pruned.count
        freed += pruned.bytes_freed
    return PruneSummary(dry_run, 0, 0, removed, freed)

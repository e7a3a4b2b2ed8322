"""Pruning really deletes stored history, and every prune leaves an audit record (DESIGN §5)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from eventsourcing.persistence import StoredEvent

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import VersionRetentionPolicy
from scripts_es.service.retention import OPERATOR
from scripts_es.store.event_store import EventStore
from tests.retention.history import script_with_versions
from tests.support.clock import Clock
from tests.support.raw import Raw


def test_pruned_events_and_snapshots_are_deleted_from_the_tables(
    session: TenantSession, clock: Clock, raw: Raw, module: ScriptsModule
) -> None:
    states = script_with_versions(session, clock, 25)  # snapshots at 10 and 20 (snapshot_every=10)
    script_id = states[0].id
    assert raw.event_versions(script_id) == list(range(1, 26))
    assert raw.snapshot_versions(script_id) == [10, 20]
    total_events = raw.scalar("SELECT count(*) FROM scripts_es.events")

    result = session.scripts.prune_version_history(
        script_id, VersionRetentionPolicy(max_versions=8)
    )

    assert (result.horizon, result.removed) == (18, 17)
    assert raw.event_versions(script_id) == list(range(18, 26))
    assert raw.snapshot_versions(script_id) == [18, 20]
    assert raw.scalar("SELECT count(*) FROM scripts_es.events") == total_events - 17
    versions = raw.rows(
        "SELECT version FROM scripts_es.script_versions WHERE script_id = %s ORDER BY version",
        (script_id,),
    )
    assert [v for (v,) in versions] == list(range(18, 26))
    topic, state = raw.rows(
        "SELECT topic, state FROM scripts_es.snapshots WHERE originator_id = %s"
        " AND originator_version = 18",
        (script_id,),
    )[0]
    seeded = EventStore().mapper.from_snapshot(StoredEvent(script_id, 18, topic, bytes(state)))
    assert seeded == states[17], "the snapshot at the horizon is the state at the horizon"
    assert module.verify_projections().ok


def test_each_prune_is_audited_with_who_when_policy_horizon_and_count(
    session: TenantSession, clock: Clock, raw: Raw, user_id: uuid.UUID
) -> None:
    script_id = script_with_versions(session, clock, 12)[0].id
    first_at = clock.advance(timedelta(hours=1))
    session.scripts.prune_version_history(script_id, VersionRetentionPolicy(max_versions=5))
    second_at = clock.advance(timedelta(days=2))
    session.handle(c.PruneScriptHistory(script_id=script_id, max_versions=5, retention_days=1))
    session.scripts.prune_version_history(
        script_id, VersionRetentionPolicy(max_versions=1), dry_run=True
    )

    assert raw.audit(script_id) == [
        (first_at, user_id, {"max_versions": 5, "retention_days": None}, 8, 7),
        (second_at, user_id, {"max_versions": 5, "retention_days": 1}, 12, 4),
    ], "a dry run is not a prune: it leaves no audit record"


def test_audit_records_stay_inside_their_tenant(
    clocked: ScriptsModule, session: TenantSession, clock: Clock, raw: Raw
) -> None:
    script_id = script_with_versions(session, clock, 4)[0].id
    session.scripts.prune_version_history(script_id, VersionRetentionPolicy(max_versions=1))
    other = clocked.tenant(uuid.uuid4(), uuid.uuid4())
    other_script = script_with_versions(other, clock, 4)[0].id
    other.scripts.prune_version_history(other_script, VersionRetentionPolicy(max_versions=2))

    rows = raw.rows("SELECT tenant_id, script_id, horizon FROM scripts_es.prune_audit ORDER BY id")
    assert rows == [
        (session.session.tenant_id, script_id, 4),
        (other.session.tenant_id, other_script, 3),
    ]


def test_operator_prunes_are_audited_as_the_operator(
    clocked: ScriptsModule, session: TenantSession, clock: Clock, raw: Raw
) -> None:
    script_id = script_with_versions(session, clock, 6)[0].id
    now = clock.advance(timedelta(days=1))
    summary = clocked.prune_scripts(VersionRetentionPolicy(max_versions=2))
    assert (summary.scripts_touched, summary.events_removed) == (1, 4)
    assert raw.audit(script_id) == [
        (now, OPERATOR, {"max_versions": 2, "retention_days": None}, 5, 4)
    ]


def test_operator_script_prune_dry_run_reports_what_the_real_run_then_does(
    clocked: ScriptsModule, clock: Clock, raw: Raw
) -> None:
    sessions = [clocked.tenant(uuid.uuid4(), uuid.uuid4()) for _ in range(2)]
    sizes = [3, 7, 12, 1]
    for session in sessions:
        for n in sizes:
            script = session.handle(c.CreateScript(name=f"s{n}", content="0", type="one_off"))
            for v in range(1, n):
                clock.advance(timedelta(hours=1))
                session.handle(c.UpdateScriptContent(script_id=script.id, content=str(v)))
    policy = VersionRetentionPolicy(max_versions=4)
    expected_removed = 2 * sum(max(0, n - 4) for n in sizes)
    before = raw.everything()

    dry = clocked.prune_scripts(policy, dry_run=True)

    assert raw.everything() == before
    assert (dry.dry_run, dry.scripts_touched, dry.events_removed) == (True, 4, expected_removed)
    one = sessions[0].session.tenant_id
    partial = clocked.prune_scripts(policy, tenant_id=one)
    assert (partial.scripts_touched, partial.events_removed) == (2, expected_removed // 2)
    rest = clocked.prune_scripts(policy)
    assert (rest.scripts_touched, rest.events_removed) == (2, expected_removed // 2)
    assert partial.bytes_freed + rest.bytes_freed == dry.bytes_freed
    assert clocked.prune_scripts(policy).events_removed == 0
    # every prune is audited, also those that found nothing to remove: 4 + 8 + 8 prunes
    assert raw.scalar("SELECT count(*) FROM scripts_es.prune_audit") == 4 + 8 + 8
    assert clocked.verify_projections().ok

"""Edges of script pruning: where the horizon falls, stale expectations, deleted scripts,
other tenants' scripts, and policies that say nothing."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import PruneResult, Script, VersionRetentionPolicy
from scripts_es.errors import ConcurrencyConflict, InvalidInput, NotFound, VersionPruned
from tests.retention.history import script_with_versions
from tests.support.clock import Clock
from tests.support.raw import Raw


def versions(session: TenantSession, clock: Clock, count: int) -> list[Script]:
    return script_with_versions(session, clock, count, every=timedelta(minutes=7), name="e")


@pytest.mark.parametrize(
    ("max_versions", "horizon"),
    [(1, 25), (5, 21), (6, 20), (15, 11), (16, 10), (8, 18), (25, 1), (30, 1)],
)
def test_the_horizon_may_fall_on_below_or_between_automatic_snapshots(
    clocked: ScriptsModule,
    session: TenantSession,
    clock: Clock,
    raw: Raw,
    max_versions: int,
    horizon: int,
) -> None:
    states = versions(session, clock, 25)  # automatic snapshots at 10 and 20
    sid = states[0].id
    live = raw.read_model()

    result = session.scripts.prune_version_history(
        sid, VersionRetentionPolicy(max_versions=max_versions)
    )

    assert result == PruneResult(script_id=sid, horizon=horizon, removed=horizon - 1)
    assert raw.event_versions(sid) == list(range(horizon, 26))
    expected_snapshots = {10, 20} | ({horizon} if horizon > 1 else set())
    assert raw.snapshot_versions(sid) == sorted(v for v in expected_snapshots if v >= horizon)
    for state in states[horizon - 1 :]:
        assert session.scripts.get_version(sid, state.version) == state
    if horizon > 1:
        with pytest.raises(VersionPruned):
            session.scripts.get_version(sid, horizon - 1)
    clocked.rebuild_projections()
    expected = dict(live)
    expected["script_versions"] = [r for r in live["script_versions"] if r[2] >= horizon]
    assert raw.read_model() == expected


def test_a_prune_with_a_stale_expected_version_is_refused_and_changes_nothing(
    session: TenantSession, clock: Clock, raw: Raw
) -> None:
    sid = versions(session, clock, 12)[0].id
    before = raw.everything()

    with pytest.raises(ConcurrencyConflict):
        session.handle(c.PruneScriptHistory(script_id=sid, max_versions=2, expected_version=11))

    assert raw.everything() == before
    done = session.handle(c.PruneScriptHistory(script_id=sid, max_versions=2, expected_version=12))
    assert (done.horizon, done.removed) == (11, 10)


def test_a_pruned_script_can_be_deleted_and_rebuilt_from_its_snapshot(
    clocked: ScriptsModule, session: TenantSession, clock: Clock, raw: Raw
) -> None:
    states = versions(session, clock, 14)
    sid = states[0].id
    run = session.handle(c.StartExecution(script_id=sid, trigger=c.TriggerData(type="api")))
    session.scripts.prune_version_history(sid, VersionRetentionPolicy(max_versions=3))
    session.handle(c.DeleteScript(script_id=sid))

    with pytest.raises(NotFound):
        session.scripts.find_by_id(sid)
    with pytest.raises(NotFound):
        session.scripts.prune_version_history(sid, VersionRetentionPolicy(max_versions=1))
    assert clocked.prune_scripts(VersionRetentionPolicy(max_versions=1)).scripts_touched == 0
    assert session.executions.find_by_id(run.id) == run
    live = raw.read_model()
    assert clocked.verify_projections().ok
    clocked.rebuild_projections()
    assert raw.read_model() == live


def test_a_tenant_cannot_prune_another_tenants_script(
    clocked: ScriptsModule, session: TenantSession, clock: Clock, raw: Raw
) -> None:
    sid = versions(session, clock, 6)[0].id
    intruder = clocked.tenant(uuid.uuid4(), session.session.user_id)
    before = raw.everything()

    with pytest.raises(NotFound):
        intruder.scripts.prune_version_history(sid, VersionRetentionPolicy(max_versions=1))
    with pytest.raises(NotFound):
        intruder.handle(c.PruneScriptHistory(script_id=sid, max_versions=1))

    assert raw.everything() == before


def test_pruning_an_unknown_script_is_not_found(session: TenantSession) -> None:
    with pytest.raises(NotFound):
        session.scripts.prune_version_history(uuid.uuid4(), VersionRetentionPolicy(max_versions=1))


@pytest.mark.parametrize(
    "policy",
    [
        pytest.param(lambda: VersionRetentionPolicy(), id="neither-limit"),
        pytest.param(lambda: VersionRetentionPolicy(max_versions=0), id="zero-versions"),
        pytest.param(lambda: VersionRetentionPolicy(retention_days=0), id="zero-days"),
        pytest.param(lambda: VersionRetentionPolicy(max_versions=-3), id="negative"),
    ],
)
def test_a_policy_that_keeps_nothing_or_says_nothing_is_invalid_input(
    session: TenantSession, clock: Clock, raw: Raw, policy: object
) -> None:
    sid = versions(session, clock, 3)[0].id
    before = raw.everything()
    with pytest.raises(InvalidInput):
        session.scripts.prune_version_history(sid, policy())  # type: ignore[operator]
    assert raw.everything() == before


def test_a_prune_command_without_any_limit_is_invalid_input(
    session: TenantSession, clock: Clock
) -> None:
    sid = versions(session, clock, 3)[0].id
    with pytest.raises(InvalidInput):
        session.handle(c.PruneScriptHistory(script_id=sid))

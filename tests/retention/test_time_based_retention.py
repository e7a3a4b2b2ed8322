"""Retention by age (DESIGN §5), with time driven by a hand-moved clock: no sleeping."""

from __future__ import annotations

from datetime import timedelta

import pytest

from scripts_es import TenantSession
from scripts_es import commands as c
from scripts_es.domain import Script, VersionRetentionPolicy
from scripts_es.errors import VersionPruned
from tests.retention.history import reference_horizon, stamps_of
from tests.support.clock import Clock
from tests.support.raw import Raw


def write_on_days(session: TenantSession, clock: Clock, days: list[float]) -> list[Script]:
    """One script with one version per day given (version n on days[n-1])."""
    clock.set_day(days[0])
    states = [session.handle(c.CreateScript(name="aged", content="day 0", type="one_off"))]
    for day in days[1:]:
        clock.set_day(day)
        states.append(
            session.handle(c.UpdateScriptContent(script_id=states[0].id, content=f"day {day}"))
        )
    assert [s.version for s in states] == list(range(1, len(days) + 1))
    return states


@pytest.mark.parametrize(
    ("days", "prune_day", "retention_days", "max_versions", "horizon"),
    [
        pytest.param([0, 5, 10, 20], 21, 7, None, 4, id="first-version-from-day-14"),
        pytest.param([0, 5, 10, 15, 20], 21, 7, None, 4, id="day-15-is-inside-the-window"),
        pytest.param([0, 1, 2], 40, 7, None, 3, id="all-too-old-keeps-only-current"),
        pytest.param([0, 1, 2], 3, 30, None, 1, id="all-young-keeps-everything"),
        pytest.param([0, 10, 15, 16, 17, 18], 20, 7, 2, 5, id="count-is-the-tighter-limit"),
        pytest.param([0, 10, 15, 16, 17, 18], 20, 7, 10, 3, id="age-is-the-tighter-limit"),
        pytest.param([0, 0.5, 30, 30.5], 31, 1, None, 3, id="multi-day-gap"),
    ],
)
def test_retention_days_keeps_exactly_the_versions_written_inside_the_window(
    session: TenantSession,
    clock: Clock,
    days: list[float],
    prune_day: float,
    retention_days: int,
    max_versions: int | None,
    horizon: int,
) -> None:
    states = write_on_days(session, clock, days)
    script_id = states[0].id
    now = clock.set_day(prune_day)
    policy = VersionRetentionPolicy(max_versions=max_versions, retention_days=retention_days)
    assert reference_horizon(stamps_of(states), len(states), now, policy) == horizon

    result = session.scripts.prune_version_history(script_id, policy)

    assert (result.horizon, result.removed) == (horizon, horizon - 1)
    history = session.scripts.get_version_history(script_id)
    assert [v.version for v in history] == list(range(horizon, len(states) + 1))
    assert session.scripts.find_by_id(script_id) == states[-1]
    for state in states[horizon - 1 :]:
        assert session.scripts.get_version(script_id, state.version) == state
    for version in range(1, horizon):
        with pytest.raises(VersionPruned) as pruned:
            session.scripts.get_version(script_id, version)
        assert pruned.value.horizon == horizon


def test_a_version_exactly_retention_days_old_is_still_retained(
    session: TenantSession, clock: Clock
) -> None:
    states = write_on_days(session, clock, [0, 3, 7])
    clock.set_day(10)
    policy = VersionRetentionPolicy(retention_days=7)
    script_id = states[0].id

    dry = session.scripts.prune_version_history(script_id, policy, dry_run=True)
    assert dry.horizon == 2, "the version written exactly 7 days ago is not older than 7 days"

    clock.advance(timedelta(microseconds=1))
    result = session.scripts.prune_version_history(script_id, policy)
    assert (result.horizon, result.removed) == (3, 2)


def test_the_horizon_moves_forward_as_the_clock_moves_on(
    session: TenantSession, clock: Clock, raw: Raw
) -> None:
    states = write_on_days(session, clock, [0, 5, 10, 15, 20])
    script_id = states[0].id
    command = c.PruneScriptHistory(script_id=script_id, retention_days=7)

    clock.set_day(16)
    first = session.handle(command)
    assert (first.horizon, first.removed) == (3, 2)
    assert session.handle(command).removed == 0, "same policy, same moment: nothing more to do"

    clock.set_day(21)
    later = session.handle(command)
    assert (later.horizon, later.removed) == (4, 1)
    with pytest.raises(VersionPruned) as pruned:
        session.scripts.get_version(script_id, 3)
    assert pruned.value.horizon == 4
    assert raw.event_versions(script_id) == [4, 5]

    clock.set_day(400)
    final = session.handle(command)
    assert (final.horizon, final.removed) == (5, 1), "the current version is always retained"
    assert session.scripts.get_version(script_id, 5) == states[-1]
    assert [row[3] for row in raw.audit(script_id)] == [3, 3, 4, 5]


def test_pruning_by_age_is_measured_against_the_event_time_not_the_prune_time(
    session: TenantSession, clock: Clock
) -> None:
    """A burst of versions in one minute, long ago, then one recent change."""
    clock.set_day(0)
    created = session.handle(c.CreateScript(name="burst", content="0", type="one_off"))
    for i in range(1, 6):
        clock.advance(timedelta(seconds=10))
        session.handle(c.UpdateScriptContent(script_id=created.id, content=str(i)))
    clock.set_day(30)
    session.handle(c.UpdateScriptContent(script_id=created.id, content="recent"))
    clock.set_day(31)

    result = session.scripts.prune_version_history(
        created.id, VersionRetentionPolicy(retention_days=7, max_versions=100)
    )

    assert (result.horizon, result.removed) == (7, 6)
    assert session.scripts.find_by_id(created.id).content == "recent"

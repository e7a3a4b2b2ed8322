"""Execution retention (DESIGN §5): old terminal executions go, streams and rows; live ones stay."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import Execution, ExecutionStatus
from scripts_es.errors import InvalidInput, NotFound
from tests.support.clock import Clock
from tests.support.raw import Raw

API = c.TriggerData(type="api")


@pytest.fixture
def snappy(dsn: str, clock: Clock) -> Iterator[ScriptsModule]:
    """A module that snapshots every second event, so execution streams have snapshots too."""
    with ScriptsModule.open(dsn, install=False, snapshot_every=2, clock=clock) as m:
        yield m


@dataclass
class Fleet:
    """Executions of two scripts (one later deleted) in every status, on known days."""

    session: TenantSession
    a: uuid.UUID
    b: uuid.UUID
    executions: list[Execution]

    def terminal(self) -> list[Execution]:
        return [e for e in self.executions if e.status.is_terminal]


def run(
    session: TenantSession,
    clock: Clock,
    script_id: uuid.UUID,
    start: float,
    end: float | None,
    status: str = "completed",
    *,
    queued: bool = False,
) -> Execution:
    clock.set_day(start)
    opener = c.EnqueueExecution if queued else c.StartExecution
    execution: Execution = session.handle(
        opener(script_id=script_id, trigger=API, input={"day": start})
    )
    if end is not None:
        clock.set_day(end)
        execution = session.handle(
            c.CompleteExecution(
                execution_id=execution.id, status=status, result={"output": f"day {end}"}
            )
        )
    return execution


def build_fleet(session: TenantSession, clock: Clock) -> Fleet:
    clock.set_day(0)
    a = session.handle(c.CreateScript(name="a", content="x", type="one_off")).id
    b = session.handle(c.CreateScript(name="b", content="y", type="one_off")).id
    executions = [
        run(session, clock, a, 0, 1),
        run(session, clock, a, 2, 2.5, "failed"),
        run(session, clock, a, 3, 3, "timeout"),
        run(session, clock, a, 0, 9),
        run(session, clock, a, 0, 0.5, queued=True),  # pending -> completed straight away
        run(session, clock, a, 0, None),  # running forever
        run(session, clock, a, 0, None, queued=True),  # pending forever
        run(session, clock, b, 1, 1),
        run(session, clock, b, 1, 2, "failed"),
    ]
    clock.set_day(4)
    session.handle(c.DeleteScript(script_id=b))
    return Fleet(session, a, b, executions)


def doomed(executions: list[Execution], now: datetime, days: int, keep: int) -> set[uuid.UUID]:
    """Reference: terminal, completed more than `days` ago, not among its script's newest `keep`."""
    doomed: set[uuid.UUID] = set()
    for script_id in {e.script_id for e in executions}:
        terminal = sorted(
            (e for e in executions if e.script_id == script_id and e.status.is_terminal),
            key=lambda e: (e.completed_at, e.id),
            reverse=True,
        )
        for execution in terminal[keep:]:
            assert execution.completed_at is not None
            if now - execution.completed_at > timedelta(days=days):
                doomed.add(execution.id)
    return doomed


@pytest.mark.parametrize("keep", [0, 1, 2, 10])
def test_prune_removes_only_old_terminal_executions_beyond_each_scripts_newest_ones(
    snappy: ScriptsModule, clock: Clock, raw: Raw, keep: int
) -> None:
    fleet = build_fleet(snappy.tenant(uuid.uuid4(), uuid.uuid4()), clock)
    now = clock.set_day(10)
    expected = doomed(fleet.executions, now, 5, keep)
    if keep == 0:
        assert len(expected) == 6, "the scenario has six old terminal executions"
    kept = [e for e in fleet.executions if e.id not in expected]
    assert all(raw.count("snapshots", "originator_id", e.id) for e in fleet.terminal())
    scripts_before = raw.table("events", "originator_id = ANY(%s)", ([fleet.a, fleet.b],))

    removed = fleet.session.executions.prune(older_than_days=5, keep_last_per_script=keep)

    assert removed == len(expected)
    for execution in fleet.executions:
        if execution.id in expected:
            with pytest.raises(NotFound):
                fleet.session.executions.find_by_id(execution.id)
            assert raw.count("events", "originator_id", execution.id) == 0
            assert raw.count("snapshots", "originator_id", execution.id) == 0
            assert raw.count("executions", "id", execution.id) == 0
        else:
            assert fleet.session.executions.find_by_id(execution.id) == execution
            assert raw.count("executions", "id", execution.id) == 1
    remaining = {e.id for e in fleet.session.executions.find_for_script(fleet.a)}
    assert remaining == {e.id for e in kept if e.script_id == fleet.a}
    assert raw.table("events", "originator_id = ANY(%s)", ([fleet.a, fleet.b],)) == scripts_before
    assert snappy.verify_projections().ok


def test_running_and_pending_executions_are_never_removed(
    snappy: ScriptsModule, clock: Clock
) -> None:
    fleet = build_fleet(snappy.tenant(uuid.uuid4(), uuid.uuid4()), clock)
    clock.set_day(1000)

    removed = fleet.session.executions.prune(older_than_days=0)

    assert removed == len(fleet.terminal())
    survivors = fleet.session.executions.find_for_script(fleet.a)
    assert {e.status for e in survivors} == {ExecutionStatus.RUNNING, ExecutionStatus.PENDING}
    assert fleet.session.executions.prune(older_than_days=0) == 0


def test_an_execution_exactly_older_than_days_old_is_kept(
    session: TenantSession, clock: Clock
) -> None:
    clock.set_day(0)
    script = session.handle(c.CreateScript(name="a", content="x", type="one_off"))
    execution = run(session, clock, script.id, 0, 2)
    clock.set_day(9)
    assert session.executions.prune(older_than_days=7) == 0
    clock.advance(timedelta(microseconds=1))
    assert session.executions.prune(older_than_days=7) == 1
    with pytest.raises(NotFound):
        session.executions.find_by_id(execution.id)


def test_execution_prune_stays_inside_the_tenant(clocked: ScriptsModule, clock: Clock) -> None:
    mine = build_fleet(clocked.tenant(uuid.uuid4(), uuid.uuid4()), clock)
    theirs = build_fleet(clocked.tenant(uuid.uuid4(), uuid.uuid4()), clock)
    clock.set_day(30)

    assert mine.session.executions.prune(older_than_days=5) == len(mine.terminal())

    for execution in theirs.executions:
        assert theirs.session.executions.find_by_id(execution.id) == execution


def test_rebuilding_after_an_execution_prune_gives_the_same_tables(
    snappy: ScriptsModule, clock: Clock, raw: Raw
) -> None:
    fleet = build_fleet(snappy.tenant(uuid.uuid4(), uuid.uuid4()), clock)
    clock.set_day(10)
    fleet.session.executions.prune(older_than_days=5, keep_last_per_script=1)
    live = raw.read_model()

    snappy.rebuild_projections()

    assert raw.read_model() == live


@pytest.mark.parametrize(("days", "keep"), [(-1, 0), (1, -1)])
def test_execution_prune_rejects_negative_arguments(
    session: TenantSession, days: int, keep: int
) -> None:
    with pytest.raises(InvalidInput):
        session.executions.prune(older_than_days=days, keep_last_per_script=keep)


def test_operator_execution_prune_spans_tenants_and_a_dry_run_changes_nothing(
    snappy: ScriptsModule, clock: Clock, raw: Raw
) -> None:
    fleets = [build_fleet(snappy.tenant(uuid.uuid4(), uuid.uuid4()), clock) for _ in range(3)]
    now = clock.set_day(10)
    expected = sum(len(doomed(f.executions, now, 5, 1)) for f in fleets)
    before = raw.everything()

    dry = snappy.prune_executions(5, keep_last_per_script=1, dry_run=True)

    assert raw.everything() == before
    assert (dry.dry_run, dry.executions_removed) == (True, expected)
    real = snappy.prune_executions(5, keep_last_per_script=1)
    assert (real.dry_run, real.executions_removed, real.bytes_freed) == (
        False,
        expected,
        dry.bytes_freed,
    )
    assert real.bytes_freed > 0
    assert snappy.prune_executions(5, keep_last_per_script=1).executions_removed == 0


def test_operator_execution_prune_can_target_one_tenant(
    snappy: ScriptsModule, clock: Clock
) -> None:
    one, two = (build_fleet(snappy.tenant(uuid.uuid4(), uuid.uuid4()), clock) for _ in range(2))
    clock.set_day(10)

    summary = snappy.prune_executions(0, tenant_id=one.session.session.tenant_id)

    assert summary.executions_removed == len(one.terminal())
    for execution in two.executions:
        assert two.session.executions.find_by_id(execution.id) == execution

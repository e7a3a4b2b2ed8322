"""Races of running scripts on the real database, each party with its own module (pools and
cache: separate processes of a host app): schedulers firing the same slots, workers claiming
the same queue, a sweep against a late completion."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Execution, ExecutionStatus, ScriptType
from scripts_es.errors import InvalidTransition
from tests.integration.races import race
from tests.support.clock import Clock
from tests.support.commands import create_command
from tests.support.raw import raw

START = datetime(2030, 6, 1, 8, 0, 30, tzinfo=UTC)
PARTIES = 4


@pytest.fixture
def modules(dsn: str, clock: Clock) -> Iterator[list[ScriptsModule]]:
    clock.now = START
    opened = [ScriptsModule.open(dsn, install=False, pool_size=2) for _ in range(PARTIES)]
    try:
        yield [m.with_clock(clock) for m in opened]
    finally:
        for m in opened:
            m.close()


def test_four_schedulers_firing_the_same_due_slots_record_one_execution_per_slot(
    modules: list[ScriptsModule], clock: Clock, dsn: str, user_id: UUID
) -> None:
    tenants = [uuid4(), uuid4()]
    for tenant_id in tenants:
        t = modules[0].tenant(tenant_id, user_id)
        for minute in range(0, 60, 6):
            metadata = {"cron_expression": f"{minute} * * * *", "timezone": "Europe/Berlin"}
            t.handle(create_command(ScriptType.CRON, metadata=metadata))
    fired: list[list[UUID]] = [[] for _ in range(PARTIES)]

    def scheduler(i: int) -> int:
        module = modules[i]
        for _ in range(3):  # three rounds over what is due now
            for due in module.due(clock(), limit=1000):
                t = module.tenant(due.tenant_id, user_id)
                run = t.handle(
                    c.FireScheduledRun(script_id=due.script_id, scheduled_for=due.scheduled_for)
                )
                fired[i].append(run.id)
        return len(fired[i])

    clock.now = START + timedelta(hours=3)
    outcomes = race(PARTIES, scheduler, timeout=120)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    with raw(dsn) as conn:
        slots = conn.rows(
            "SELECT script_id, scheduled_for, count(*) FROM scripts_es.executions"
            " WHERE trigger_type = 'cron' GROUP BY script_id, scheduled_for"
        )
        cron_runs = {
            run_id
            for (run_id,) in conn.rows(
                "SELECT id FROM scripts_es.executions WHERE trigger_type = 'cron'"
            )
        }
        events = conn.scalar(
            "SELECT count(*) FROM scripts_es.events e JOIN scripts_es.executions x"
            " ON x.tenant_id = e.tenant_id AND x.id = e.originator_id"
        )
    assert slots and all(count == 1 for _, _, count in slots)
    assert len(slots) == 2 * 10  # each script fired its latest slot once (misfire policy)
    assert events == len(slots)  # one ExecutionQueued each, nothing more
    assert {run for runs in fired for run in runs} == cron_runs  # what schedulers were answered
    assert modules[0].due(clock()) == []
    assert modules[0].verify_projections().ok


def test_four_workers_claiming_two_hundred_pending_executions_claim_each_exactly_once(
    modules: list[ScriptsModule], clock: Clock, dsn: str, user_id: UUID
) -> None:
    pending: set[UUID] = set()
    for tenant_id in (uuid4(), uuid4()):
        t = modules[0].tenant(tenant_id, user_id)
        script = t.handle(create_command(ScriptType.ONE_OFF))
        for _ in range(100):
            run = t.handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}))
            pending.add(run.id)
    claimed: list[list[Execution]] = [[] for _ in range(PARTIES)]

    def worker(i: int) -> int:
        while batch := modules[i].claim(f"worker-{i}", limit=1, lease=60):
            claimed[i].extend(batch)
        return len(claimed[i])

    outcomes = race(PARTIES, worker, timeout=120)
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    ids = Counter(run.id for runs in claimed for run in runs)
    assert set(ids) == pending and set(ids.values()) == {1}
    assert sum(1 for runs in claimed if runs) >= 2  # the workers really shared the queue
    with raw(dsn) as conn:
        rows = conn.rows("SELECT worker, count(*) FROM scripts_es.executions GROUP BY worker")
        starts = conn.scalar(
            "SELECT count(*) FROM scripts_es.events WHERE topic LIKE '%ExecutionStarted'"
        )
    assert dict(rows) == {f"worker-{i}": len(runs) for i, runs in enumerate(claimed) if runs}
    assert starts == 200
    assert modules[0].verify_projections().ok


@pytest.mark.parametrize("round_", range(6))
def test_a_sweep_racing_a_late_completion_lets_one_win_and_the_other_fail_cleanly(
    modules: list[ScriptsModule], clock: Clock, dsn: str, user_id: UUID, round_: int
) -> None:
    t = modules[0].tenant(uuid4(), user_id)
    script = t.handle(create_command(ScriptType.ONE_OFF))
    run = t.handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}))
    (claimed,) = modules[1].claim("slow", lease=5)
    assert claimed.lease_expires_at is not None
    clock.now = claimed.lease_expires_at + timedelta(seconds=1)
    late = modules[2].tenant(t.session.tenant_id, user_id)

    def party(i: int) -> object:
        if i == 0:
            return modules[3].sweep()
        return late.handle(c.CompleteExecution(execution_id=run.id, status="completed"))

    sweep, completion = race_pair(party)
    final = t.executions.find_by_id(run.id)
    with raw(dsn) as conn:
        versions = conn.rows(
            "SELECT originator_version FROM scripts_es.events WHERE originator_id = %s ORDER BY 1",
            (run.id,),
        )
    assert [v for (v,) in versions] == [1, 2, 3]  # exactly one terminal event
    if final.status is ExecutionStatus.TIMEOUT:
        assert isinstance(completion, InvalidTransition)
        assert sweep == [final]
    else:
        assert final.status is ExecutionStatus.COMPLETED and completion == final
        assert sweep == []
    assert modules[0].verify_projections().ok


def race_pair(party: object) -> tuple[object, object]:
    """Both parties' answers (an error is an answer)."""
    outcomes = race(2, lambda i: party(i))  # type: ignore[operator]
    return tuple(o.value if o.ok else o.error for o in outcomes)  # type: ignore[return-value]

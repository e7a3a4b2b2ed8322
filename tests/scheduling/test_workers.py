"""Workers (DESIGN §10): `claim` moves pending executions to running for one worker with a
lease; `sweep` times out lapsed leases; a late completion then gets InvalidTransition."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, ScriptType
from scripts_es.errors import InvalidInput, InvalidTransition
from tests.support.clock import Clock
from tests.support.commands import create_command
from tests.support.raw import raw

START = datetime(2030, 6, 1, 8, tzinfo=UTC)


@pytest.fixture
def t(clocked: ScriptsModule, tenant_id: UUID, user_id: UUID, clock: Clock) -> TenantSession:
    clock.now = START
    return clocked.tenant(tenant_id, user_id)


def enqueue(t: TenantSession, clock: Clock, n: int) -> list[UUID]:
    script = t.handle(create_command(ScriptType.ONE_OFF))
    ids = []
    for i in range(n):
        clock.advance(timedelta(seconds=1))
        run = t.handle(
            c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}, input={"i": i})
        )
        ids.append(run.id)
    return ids


def test_a_claim_takes_the_oldest_pending_executions_for_the_worker_with_a_lease(
    clocked: ScriptsModule, t: TenantSession, clock: Clock, dsn: str
) -> None:
    ids = enqueue(t, clock, 3)
    (first,) = clocked.claim("worker-a", lease=timedelta(minutes=5))
    assert first.id == ids[0]
    assert (first.status, first.worker, first.lease_expires_at, first.started_at) == (
        ExecutionStatus.RUNNING,
        "worker-a",
        clock() + timedelta(minutes=5),
        clock(),
    )
    assert t.executions.find_by_id(first.id) == first  # the events and the read model agree
    rest = clocked.claim("worker-b", limit=5, lease=30)
    assert [r.id for r in rest] == ids[1:]
    assert clocked.claim("worker-c") == []
    with raw(dsn) as conn:
        (payload,) = conn.rows(
            "SELECT convert_from(state, 'UTF8')::jsonb FROM scripts_es.events"
            " WHERE originator_id = %s AND originator_version = 2",
            (first.id,),
        )[0]
    assert payload["worker"] == "worker-a" and payload["class_version"] == 2


def test_sweep_times_out_lapsed_leases_and_a_late_completion_is_refused(
    clocked: ScriptsModule, t: TenantSession, clock: Clock
) -> None:
    short, long = enqueue(t, clock, 2)
    clocked.claim("w1", lease=10)
    clocked.claim("w2", lease=3600)
    assert clocked.sweep() == []  # nothing lapsed yet
    clock.advance(timedelta(seconds=11))
    (swept,) = clocked.sweep()
    assert (swept.id, swept.status) == (short, ExecutionStatus.TIMEOUT)
    assert swept.result is not None and "'w1'" in swept.result.error
    with pytest.raises(InvalidTransition, match="already timeout"):
        t.handle(c.CompleteExecution(execution_id=short, status="completed"))
    assert t.executions.find_by_id(short) == swept
    done = t.handle(c.CompleteExecution(execution_id=long, status="completed"))
    assert done.status is ExecutionStatus.COMPLETED
    clock.advance(timedelta(hours=2))
    assert clocked.sweep() == []  # completed runs are never swept


def test_bad_claims_are_refused_clearly(clocked: ScriptsModule) -> None:
    for worker, limit, lease, field in (
        ("", 1, 10, "worker"),
        ("x" * 201, 1, 10, "worker"),
        ("w\x00", 1, 10, "worker"),
        ("w", 0, 10, "limit"),
        ("w", 1001, 10, "limit"),
        ("w", 1, 0, "lease"),
        ("w", 1, timedelta(days=8), "lease"),
        ("w", 1, "10", "lease"),
    ):
        with pytest.raises(InvalidInput) as raised:
            clocked.claim(worker, limit=limit, lease=lease)  # type: ignore[arg-type]
        assert raised.value.field == field


def test_without_inline_projections_a_claim_takes_what_the_runner_projected(
    dsn: str, clock: Clock, tenant_id: UUID, user_id: UUID
) -> None:
    clock.now = START
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as opened:
        module = opened.with_clock(clock)
        t = module.tenant(tenant_id, user_id)
        (queued,) = enqueue(t, clock, 1)
        assert module.claim("early") == []  # not in the read model yet
        module.run_projections(once=True)
        (claimed,) = module.claim("w", lease=30)
        assert (claimed.id, claimed.worker, claimed.version) == (queued, "w", 2)
        # The read model still says pending; the events say running: never claimed twice.
        assert module.claim("again") == []
        module.run_projections(once=True)
        assert module.claim("again") == []
        clock.advance(timedelta(seconds=31))
        (swept,) = module.sweep()
        assert swept.status is ExecutionStatus.TIMEOUT
        module.run_projections(once=True)
        assert t.executions.find_by_id(queued) == swept

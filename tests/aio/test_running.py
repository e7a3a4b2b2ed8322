"""Running scripts through the async module: due, fire, claim and sweep decide as the blocking
module does (the same `workers.Pick` and handlers), and async workers never share a run."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from scripts_es import AsyncScriptsModule, ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Execution, ExecutionStatus, ScriptType
from scripts_es.errors import InvalidInput, InvalidTransition
from tests.aio.support import Loop
from tests.support.clock import Clock
from tests.support.commands import create_command

START = datetime(2030, 6, 1, 8, 0, 30, tzinfo=UTC)


def test_async_due_fire_claim_and_sweep_match_the_blocking_module(
    module: ScriptsModule, amodule: AsyncScriptsModule, loop: Loop
) -> None:
    clock = Clock(START)
    timed, atimed = module.with_clock(clock), amodule.with_clock(clock)
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    t, at = timed.tenant(tenant_id, user_id), atimed.tenant(tenant_id, user_id)
    metadata = {"cron_expression": "*/10 * * * *", "timezone": "Europe/Berlin"}
    script = t.handle(create_command(ScriptType.CRON, metadata=metadata))
    clock.advance(timedelta(minutes=35))
    assert loop.run(atimed.due(clock())) == timed.due(clock())
    assert loop.run(at.scripts.due(clock())) == t.scripts.due(clock())
    (due,) = loop.run(atimed.due(clock()))
    fire = c.FireScheduledRun(script_id=script.id, scheduled_for=due.scheduled_for)
    fired = loop.run(at.handle(fire))
    assert fired == t.handle(fire)  # one run per slot, whichever driver fires it
    assert fired.trigger.skipped_slots == 2

    (claimed,) = loop.run(atimed.claim("async-worker", lease=30))
    assert (claimed.id, claimed.status, claimed.worker) == (
        fired.id,
        ExecutionStatus.RUNNING,
        "async-worker",
    )
    assert t.executions.find_by_id(fired.id) == claimed
    assert loop.run(atimed.sweep()) == []
    clock.advance(timedelta(seconds=31))
    (swept,) = loop.run(atimed.sweep())
    assert swept.status is ExecutionStatus.TIMEOUT
    with pytest.raises(InvalidTransition):  # a late completion is refused
        loop.run(at.handle(c.CompleteExecution(execution_id=fired.id, status="completed")))
    with pytest.raises(InvalidInput, match="worker"):
        loop.run(atimed.claim("", lease=30))


def test_async_workers_on_one_loop_claim_each_pending_run_once(
    amodule: AsyncScriptsModule, loop: Loop
) -> None:
    t = amodule.tenant(uuid.uuid4(), uuid.uuid4())

    async def scenario() -> tuple[set[uuid.UUID], list[Execution]]:
        script = await t.handle(create_command(ScriptType.ONE_OFF))
        pending = set()
        for _ in range(40):
            run = await t.handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}))
            pending.add(run.id)

        async def worker(i: int) -> list[Execution]:
            got: list[Execution] = []
            while batch := await amodule.claim(f"w{i}", limit=1, lease=60):
                got.extend(batch)
            return got

        results = await asyncio.gather(*(worker(i) for i in range(4)))
        return pending, [run for runs in results for run in runs]

    pending, claimed = loop.run(scenario())
    counts = Counter(run.id for run in claimed)
    assert pending <= set(counts) and all(counts[run] == 1 for run in pending)

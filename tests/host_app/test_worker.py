"""The host app's worker in-process: a pluggable runner's failure fails the run; a run that
outlives its lease is swept to timeout, and the late completion is refused, not applied."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from examples.host_app.worker import EchoRunner, Worker
from scripts_es import AsyncScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Execution
from tests.support.fixtures import shared_dsn  # noqa: F401


class Failing:
    async def run(self, execution: Execution) -> dict[str, Any]:
        raise RuntimeError(f"cannot run {execution.input['n']}")


class Slow:
    async def run(self, execution: Execution) -> dict[str, Any]:
        await asyncio.sleep(1.5)
        return {"output": "too late"}


async def settle(t: Any, run_id: uuid.UUID, timeout: float = 15) -> Execution:
    async with asyncio.timeout(timeout):
        while True:
            run: Execution = await t.executions.find_by_id(run_id)
            if run.status.is_terminal:
                return run
            await asyncio.sleep(0.05)


async def queued(module: AsyncScriptsModule, n: int) -> tuple[Any, Execution]:
    t = module.tenant(uuid.uuid4(), uuid.uuid4())
    s = await t.handle(c.CreateScript(name="w", content="...", type="one_off"))
    run = await t.handle(
        c.EnqueueExecution(script_id=s.id, trigger={"type": "api"}, input={"n": n})
    )
    return t, run


def test_runners_are_pluggable_and_a_failure_fails_the_run(dsn: str) -> None:
    async def main() -> None:
        async with AsyncScriptsModule.open(dsn, install=False) as module:
            for runner, status in [(EchoRunner(), "completed"), (Failing(), "failed")]:
                t, run = await queued(module, 3)
                worker = Worker(module, runner, name=f"w-{status}")
                worker.start()
                try:
                    done = await settle(t, run.id)
                finally:
                    await worker.stop()
                assert done.status == status
                assert done.worker == f"w-{status}"
                assert done.result is not None
                if status == "failed":
                    assert done.result.error == "RuntimeError: cannot run 3"
                else:
                    assert done.result.output == '{"n":3}'

    asyncio.run(main())


def test_a_run_past_its_lease_is_swept_and_its_late_result_refused(
    dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        async with AsyncScriptsModule.open(dsn, install=False) as module:
            t, run = await queued(module, 1)
            worker = Worker(module, Slow(), lease=0.5, sweep_every=0.2)
            worker.start()
            try:
                done = await settle(t, run.id)
                assert done.status == "timeout"
                await asyncio.sleep(1.5)  # the slow run finishes: its completion is refused
                assert (await t.executions.find_by_id(run.id)).status == "timeout"
            finally:
                await worker.stop()

    asyncio.run(main())
    refused = [r.getMessage() for r in caplog.records if "not completed" in r.getMessage()]
    assert len(refused) == 1, caplog.records

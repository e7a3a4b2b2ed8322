"""Many tasks on one event loop: nothing lost, nothing duplicated, conflicts where they belong;
the two ways to open the module; retries after an outage and read-your-writes without inline
projection, which both wait (asyncio.sleep) inside the shared pipeline."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from scripts_es import AsyncScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Execution, ExecutionStatus, Script
from scripts_es.errors import ConcurrencyConflict
from tests.aio.support import Loop
from tests.support.commands import create_command
from tests.support.fixtures import open_module
from tests.support.raw import stream_versions, terminate_module_connections

TASKS = 40


def test_forty_tasks_writing_their_own_scripts_lose_nothing(
    amodule: AsyncScriptsModule, loop: Loop, dsn: str
) -> None:
    t = amodule.tenant(uuid.uuid4(), uuid.uuid4())

    async def writer(n: int) -> Script:
        script = await t.handle(create_command(name=f"task {n}"))
        for k in range(3):
            script = await t.handle(c.UpdateScriptContent(script_id=script.id, content=f"{k}"))
        return script

    async def scene() -> tuple[list[Script], int]:
        written = await asyncio.gather(*(writer(n) for n in range(TASKS)))
        return written, await t.scripts.count()

    written, count = loop.run(scene())
    assert count == TASKS
    assert {s.version for s in written} == {4}
    assert all(stream_versions(dsn, s.id) == [1, 2, 3, 4] for s in written)


def test_tasks_racing_on_one_version_let_exactly_one_win(
    amodule: AsyncScriptsModule, loop: Loop, dsn: str
) -> None:
    t = amodule.tenant(uuid.uuid4(), uuid.uuid4())

    async def scene() -> tuple[list[Any], Script]:
        script = await t.handle(create_command())
        racing = (
            t.handle(c.UpdateScriptContent(script_id=script.id, content=f"{n}", expected_version=1))
            for n in range(TASKS)
        )
        outcomes = await asyncio.gather(*racing, return_exceptions=True)
        return outcomes, await t.scripts.find_by_id(script.id)

    outcomes, final = loop.run(scene())
    won = [o for o in outcomes if isinstance(o, Script)]
    assert len(won) == 1
    assert all(isinstance(o, ConcurrencyConflict) for o in outcomes if o not in won)
    assert final == won[0] and final.version == 2
    assert stream_versions(dsn, final.id) == [1, 2]


def test_tasks_sending_one_command_id_apply_it_once_and_agree(
    amodule: AsyncScriptsModule, loop: Loop, dsn: str
) -> None:
    t = amodule.tenant(uuid.uuid4(), uuid.uuid4())
    command = create_command("http", command_id=uuid.uuid4())

    async def scene() -> tuple[list[Script], int]:
        answers = await asyncio.gather(*(t.handle(command) for _ in range(TASKS)))
        return answers, await t.scripts.count()

    answers, count = loop.run(scene())
    assert count == 1
    assert len({a.model_dump_json() for a in answers}) == 1
    assert stream_versions(dsn, answers[0].id) == [1]


def test_executions_started_by_many_tasks_all_run_the_script(
    amodule: AsyncScriptsModule, loop: Loop
) -> None:
    t = amodule.tenant(uuid.uuid4(), uuid.uuid4())

    async def run_once(script: Script) -> Execution:
        started = await t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
        return await t.handle(
            c.CompleteExecution(execution_id=started.id, status=ExecutionStatus.COMPLETED)
        )

    async def scene() -> list[Execution]:
        script = await t.handle(create_command())
        await asyncio.gather(*(run_once(script) for _ in range(TASKS // 2)))
        return await t.executions.find_for_script(script.id)

    found = loop.run(scene())
    assert len(found) == TASKS // 2
    assert {e.status for e in found} == {ExecutionStatus.COMPLETED}


def test_the_module_opens_awaited_or_as_a_context_manager(loop: Loop, dsn: str) -> None:
    tenant, user = uuid.uuid4(), uuid.uuid4()

    async def scene() -> tuple[Script, Script]:
        module = await AsyncScriptsModule.open(dsn, install=False)
        try:
            made = await module.tenant(tenant, user).handle(create_command())
        finally:
            await module.close()
        async with AsyncScriptsModule.open(dsn, install=False) as again:
            return made, await again.tenant(tenant, user).scripts.find_by_id(made.id)

    made, found = loop.run(scene())
    assert found == made


def test_a_command_after_its_connections_were_terminated_is_retried(
    amodule: AsyncScriptsModule, loop: Loop, dsn: str
) -> None:
    t = amodule.tenant(uuid.uuid4(), uuid.uuid4())
    script = loop.run(t.handle(create_command()))
    assert terminate_module_connections(dsn) >= 1
    updated = loop.run(t.handle(c.UpdateScriptContent(script_id=script.id, content="after")))
    assert updated.version == 2
    assert stream_versions(dsn, script.id) == [1, 2]


def test_reads_wait_for_the_runner_without_inline_projection(loop: Loop, dsn: str) -> None:
    """The read waits (asyncio.sleep, the loop stays free) until the runner, here the blocking
    module's in a thread, has projected this session's write."""

    async def scene() -> tuple[int, list[str]]:
        async with AsyncScriptsModule.open(dsn, install=False, inline_projections=False) as m:
            t = m.tenant(uuid.uuid4(), uuid.uuid4())
            script = await t.handle(create_command(name="late"))
            reading = asyncio.ensure_future(t.scripts.find())
            await asyncio.sleep(0.1)  # the read is waiting for the runner meanwhile
            with open_module(dsn) as runner:
                projected = await asyncio.to_thread(runner.run_projections, once=True)
            found = await reading
            assert found[0].id == script.id
            return projected.events, [s.name for s in found]

    events, names = loop.run(scene())
    assert events >= 1
    assert names == ["late"]


def test_tasks_cancelled_mid_command_leave_the_module_and_the_stream_sound(
    loop: Loop, dsn: str
) -> None:
    """A host cancels requests (a client went away): each cancelled command either committed
    whole or not at all (like a lost connection), and the pool recovers its connections."""

    async def scene() -> tuple[Script, int]:
        async with AsyncScriptsModule.open(dsn, install=False, pool_size=2) as module:
            t = module.tenant(uuid.uuid4(), uuid.uuid4())
            script = await t.handle(create_command())
            for n in range(30):
                change = c.UpdateScriptContent(script_id=script.id, content=f"{n}")
                task = asyncio.ensure_future(t.handle(change))
                for _ in range(n % 6):  # cancel at a different point of the command each time
                    await asyncio.sleep(0)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
            last = await t.handle(c.UpdateScriptContent(script_id=script.id, content="last"))
            history = await t.scripts.get_version_history(script.id)
            assert [h.version for h in history] == list(range(1, last.version + 1))
            assert [s.version for s in await t.scripts.find()] == [last.version]
            return last, len(history)

    last, versions = loop.run(scene())
    assert last.content == "last" and versions == last.version
    assert stream_versions(dsn, last.id) == list(range(1, last.version + 1))

"""Operator prunes across tenants through the async module: the same summaries as the blocking
module's (one operator-steps source, `service/maintenance.py`), and the same effect."""

from __future__ import annotations

import uuid
from dataclasses import replace

from scripts_es import AsyncScriptsModule, ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, VersionRetentionPolicy
from tests.aio.support import Loop
from tests.support.commands import create_command
from tests.support.raw import stream_versions

POLICY = VersionRetentionPolicy(max_versions=2)


def test_the_async_operator_prunes_answer_what_the_blocking_ones_answer(
    module: ScriptsModule, amodule: AsyncScriptsModule, loop: Loop, dsn: str
) -> None:
    tenants = [amodule.tenant(uuid.uuid4(), uuid.uuid4()) for _ in range(3)]

    async def fill() -> list[uuid.UUID]:
        made = []
        for n, t in enumerate(tenants):
            script = await t.handle(create_command(name=f"s{n}"))
            for k in range(n + 3):
                await t.handle(c.UpdateScriptContent(script_id=script.id, content=f"{k}"))
            run = await t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
            await t.handle(c.CompleteExecution(execution_id=run.id, status=ExecutionStatus.FAILED))
            made.append(script.id)
        return made

    scripts = loop.run(fill())
    planned = module.prune_scripts(POLICY, dry_run=True)
    assert loop.run(amodule.prune_scripts(POLICY, dry_run=True)) == planned
    assert planned.scripts_touched == 3
    pruned = loop.run(amodule.prune_scripts(POLICY))
    assert pruned == replace(planned, dry_run=False)
    for script_id in scripts:
        assert len(stream_versions(dsn, script_id)) == 2
    assert loop.run(amodule.prune_scripts(POLICY)).events_removed == 0

    one = tenants[0].session.tenant_id
    planned_runs = module.prune_executions(0, tenant_id=one, dry_run=True)
    assert loop.run(amodule.prune_executions(0, tenant_id=one, dry_run=True)) == planned_runs
    assert loop.run(amodule.prune_executions(0, tenant_id=one)).executions_removed == 1
    assert loop.run(amodule.prune_executions(0)).executions_removed == 2

"""Issue 9, cause 3: maintenance never deadlocks with writers (one lock order, schema.sql).

Writers take their stream's lock, then row locks in the read-model tables; rebuild and verify
lock those tables during their catch-up. The catch-up must not then wait for stream locks.
The runner, script prunes and execution prunes run beside the same writers.
"""

from __future__ import annotations

import threading
from uuid import uuid4

from projections import runner
from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ScriptType, VersionRetentionPolicy
from scripts_es.errors import ScriptsError
from tests.support.commands import create_command


def test_every_maintenance_path_beside_three_busy_writers_never_deadlocks(
    module: ScriptsModule,
) -> None:
    tenants = [module.tenant(uuid4(), uuid4()) for _ in range(3)]
    scripts = [
        [t.handle(create_command(ScriptType.ONE_OFF, name=f"s{i}")) for i in range(2)]
        for t in tenants
    ]
    stop = threading.Event()
    writer_errors: list[BaseException] = []
    progress = [0, 0, 0]

    def write(n: int) -> None:
        t, mine = tenants[n], scripts[n]
        i = 0
        while not stop.is_set():
            script = mine[i % len(mine)]
            try:
                t.handle(c.UpdateScriptContent(script_id=script.id, content=f"{n}-{i}"))
                run = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
                t.handle(c.CompleteExecution(execution_id=run.id, status="completed"))
                if i % 7 == 0:
                    t.scripts.prune_version_history(
                        script.id, VersionRetentionPolicy(max_versions=2)
                    )
            except ScriptsError as error:
                writer_errors.append(error)
            i += 1
            progress[n] = i

    writers = [threading.Thread(target=write, args=(n,), daemon=True) for n in range(3)]
    for thread in writers:
        thread.start()
    failures: list[BaseException] = []
    try:
        jobs = (
            module.rebuild_projections,
            module.verify_projections,
            lambda: runner.run_batch(module.db, module.store, 200),  # the runner's unit of work
            lambda: module.prune_scripts(VersionRetentionPolicy(max_versions=1)),
            lambda: module.prune_executions(0),
        )
        rounds = 0
        while rounds < 6 or (min(progress) < 30 and rounds < 60):  # writers really ran beside
            rounds += 1
            for job in jobs:
                try:
                    job()
                except ScriptsError as error:
                    failures.append(error)
    finally:
        stop.set()
        for thread in writers:
            thread.join(30)
    assert failures == []
    assert min(progress) >= 30
    assert writer_errors == []
    assert module.verify_projections().ok

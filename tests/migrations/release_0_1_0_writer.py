"""Run by release 0.1.0 (in a virtualenv of its own): write varied data, print what it wrote.

Usage: python release_0_1_0_writer.py DSN. Prints one JSON document: every script's and
execution's final state, every command_id with the result it was answered with, the prunes.
This file imports only the public API of 0.1.0; it must not import the tests package.
"""

from __future__ import annotations

import json
import sys
import uuid

import scripts_es
from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import VersionRetentionPolicy


def main(dsn: str) -> None:
    answered: list[dict[str, object]] = []

    def handle(t: object, command: c.Command) -> object:
        result = t.handle(command)  # type: ignore[attr-defined]
        if command.command_id is not None:
            answered.append(
                {
                    "tenant_id": str(t.session.tenant_id),  # type: ignore[attr-defined]
                    "user_id": str(t.session.user_id),  # type: ignore[attr-defined]
                    "command": type(command).__name__,
                    "payload": command.model_dump(mode="json"),
                    "result": result.model_dump(mode="json"),
                }
            )
        return result

    scripts: dict[str, dict[str, str]] = {}
    executions: dict[str, dict[str, str]] = {}
    with ScriptsModule.open(dsn, snapshot_every=5) as module:
        for n in range(2):
            t = module.tenant(uuid.uuid4(), uuid.uuid4())
            cid = uuid.uuid4
            cron = handle(
                t,
                c.CreateScript(
                    name=f"nightly {n}",
                    content="print(1)",
                    type="cron",
                    tags=["ops", "night"],
                    metadata={"cron_expression": "0 3 * * *", "timezone": "Europe/Berlin"},
                    command_id=cid(),
                ),
            )
            http = handle(
                t,
                c.CreateScript(
                    name=f"hook {n}",
                    content="print(2)",
                    type="http",
                    description="orders",
                    metadata={"path": "/hooks/orders", "method": "post"},
                    command_id=cid(),
                ),
            )
            one_off = handle(
                t, c.CreateScript(name=f"once {n}", content="x", type="one_off", metadata={})
            )
            embedded = handle(
                t,
                c.CreateScript(
                    name=f"inside {n}", content="y", type="embedded", metadata={}, tags=["lib"]
                ),
            )
            for i in range(12):  # a long history: snapshots every 5 events
                handle(
                    t,
                    c.UpdateScriptContent(
                        script_id=cron.id, content=f"print({i})", command_id=cid()
                    ),
                )
            handle(
                t,
                c.ChangeScriptMetadata(
                    script_id=http.id,
                    metadata={"path": "/hooks/v2", "method": "PUT"},
                    command_id=cid(),
                ),
            )
            handle(
                t,
                c.ChangeScriptDetails(
                    script_id=embedded.id, name=f"renamed {n}", tags=["lib", "core"]
                ),
            )
            handle(t, c.DisableScript(script_id=one_off.id, command_id=cid()))
            handle(t, c.EnableScript(script_id=one_off.id))
            doomed = handle(
                t,
                c.CreateScript(
                    name="doomed",
                    content="z",
                    type="http",
                    metadata={"path": "/gone", "method": "GET"},
                ),
            )
            handle(t, c.DeleteScript(script_id=doomed.id, command_id=cid()))
            run = handle(
                t,
                c.StartExecution(
                    script_id=http.id,
                    trigger={"type": "api"},
                    input={"order": n, "big": 2**62, "exact": 0.1},
                    command_id=cid(),
                ),
            )
            handle(
                t,
                c.CompleteExecution(
                    execution_id=run.id,
                    status="completed",
                    result={
                        "output": "ok",
                        "logs": [
                            {"timestamp": "2026-01-01T00:00:00Z", "level": "info", "message": "hi"}
                        ],
                    },
                    command_id=cid(),
                ),
            )
            queued = handle(t, c.EnqueueExecution(script_id=cron.id, trigger={"type": "cron"}))
            handle(t, c.BeginExecution(execution_id=queued.id))
            pending = handle(
                t,
                c.EnqueueExecution(
                    script_id=one_off.id,
                    trigger={"type": "manual", "triggered_by": str(uuid.uuid4())},
                ),
            )
            failed = handle(t, c.StartExecution(script_id=embedded.id, trigger={"type": "api"}))
            handle(
                t,
                c.CompleteExecution(
                    execution_id=failed.id, status="failed", result={"error": "boom"}
                ),
            )
            handle(t, c.PruneScriptHistory(script_id=cron.id, max_versions=4, command_id=cid()))
            t.scripts.prune_version_history(embedded.id, VersionRetentionPolicy(max_versions=1))
            for script in (cron, http, one_off, embedded, doomed):
                scripts[str(script.id)] = {"tenant_id": str(t.session.tenant_id)}
            for execution in (run, queued, pending, failed):
                executions[str(execution.id)] = {"tenant_id": str(t.session.tenant_id)}
    print(
        json.dumps(
            {
                "release": scripts_es.__file__,
                "scripts": scripts,
                "executions": executions,
                "answered": answered,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1])

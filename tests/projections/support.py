"""Helpers of the projection tests: catching the runner up, rebuild == live, command mixes."""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from projections import runner
from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import Execution, Script
from scripts_es.domain.events import ScriptEvent
from scripts_es.store.mapper import resolve_topic
from tests.support.raw import READ_MODEL_ORDER, Raw, dump_read_model


def script_event_keys(dsn: str) -> list[tuple[uuid.UUID, uuid.UUID, int]]:
    """(tenant, script, version) of every stored script event, sorted."""
    with Raw(dsn) as conn:
        rows = conn.rows(
            "SELECT tenant_id, originator_id, originator_version, topic FROM scripts_es.events"
        )
    return sorted(
        (t, s, v) for t, s, v, topic in rows if issubclass(resolve_topic(topic), ScriptEvent)
    )


def catch_up(module: ScriptsModule, *, batch_size: int = 500, deadline: float = 120.0) -> int:
    """Run the projection runner until it has applied every committed event; returns how many.

    The runner's horizon is the oldest transaction in flight on the whole server, so a long
    transaction of anyone else (another test database, a benchmark) can hold it back for a
    while. `run_projections(once=True)` then gives up after 5 s with held_back set; this asks
    the same runner with a short settle time, again and again, until nothing is held back."""
    total = 0
    give_up = time.monotonic() + deadline
    while True:
        report = runner.run(
            module.db, module.store, once=True, batch_size=batch_size, settle=0.05,
            poll_interval=0.01,
        )  # fmt: skip
        total += report.events
        if not report.held_back:
            return total
        assert time.monotonic() < give_up, "the runner stayed held back by a long transaction"


def assert_rebuild_reproduces_live_tables(module: ScriptsModule, dsn: str) -> None:
    """The incrementally maintained tables equal, row for row, a rebuild from scratch."""
    assert module.verify_projections().ok
    live = dump_read_model(dsn)
    module.rebuild_projections()
    rebuilt = dump_read_model(dsn)
    for table in READ_MODEL_ORDER:
        assert live[table] == rebuilt[table], f"{table} differs from a rebuild"
    assert module.verify_projections().ok


def metadata_for(script_type: str, script_id: uuid.UUID, variant: int = 0) -> dict[str, Any]:
    """Valid metadata of a type; http paths carry the script id, so routes never collide."""
    if script_type == "cron":
        return {"cron_expression": ("*/5 * * * *", "0 * * * *")[variant % 2], "timezone": "UTC"}
    if script_type == "http":
        return {"path": f"/r/{script_id.hex}/{variant}", "method": ("GET", "POST")[variant % 2]}
    return {}


@dataclass
class Workload:
    """Random commands across tenants, remembering the final state of every aggregate."""

    module: ScriptsModule
    rng: random.Random
    tenants: list[uuid.UUID] = field(default_factory=lambda: [uuid.uuid4() for _ in range(3)])
    user: uuid.UUID = field(default_factory=uuid.uuid4)
    scripts: dict[uuid.UUID, Script | None] = field(default_factory=dict)  # None: deleted
    executions: dict[uuid.UUID, Execution] = field(default_factory=dict)
    deletes: bool = True

    def session(self, tenant_id: uuid.UUID) -> TenantSession:
        return self.module.tenant(tenant_id, self.user)

    def live(self) -> list[Script]:
        return [s for s in self.scripts.values() if s is not None]

    def step(self) -> None:
        """One random command (creates dominate while there are few scripts)."""
        live = self.live()
        running = [e for e in self.executions.values() if not e.status.is_terminal]
        roll = self.rng.random()
        if len(live) < 6 or roll < 0.15:
            self.create()
        elif roll < 0.55:
            self.change(self.rng.choice(live))
        elif roll < 0.62 and self.deletes:
            script = self.rng.choice(live)
            self.session(script.tenant_id).handle(c.DeleteScript(script_id=script.id))
            self.scripts[script.id] = None
        elif roll < 0.82 or not running:
            enabled = [s for s in live if s.is_enabled]
            if enabled:
                self.start(self.rng.choice(enabled))
        else:
            self.finish(self.rng.choice(running))

    def create(self) -> None:
        tenant_id = self.rng.choice(self.tenants)
        script_type = self.rng.choice(["cron", "http", "one_off", "embedded"])
        script_id = uuid.uuid4()
        script = self.session(tenant_id).handle(
            c.CreateScript(
                script_id=script_id,
                name=f"script {self.rng.randrange(1000)}",
                content="print(1)",
                type=script_type,
                metadata=metadata_for(script_type, script_id),
                tags=self.rng.sample(["a", "b", "c", "d"], self.rng.randrange(3)),
            )
        )
        self.scripts[script.id] = script

    def change(self, script: Script) -> None:
        t = self.session(script.tenant_id)
        kind = self.rng.randrange(4)
        if kind == 0:
            cmd: c.Command = c.UpdateScriptContent(
                script_id=script.id, content=f"print({self.rng.randrange(10**6)})"
            )
        elif kind == 1:
            cmd = c.ChangeScriptDetails(script_id=script.id, name=f"n{self.rng.randrange(99)}")
        elif kind == 2:
            cmd = (c.DisableScript if script.is_enabled else c.EnableScript)(script_id=script.id)
        elif script.type == "http":  # moving a live route is a known bug (test_routes.py)
            cmd = c.UpdateScriptContent(script_id=script.id, content="moved")
        else:
            variant = script.version + 1
            cmd = c.ChangeScriptMetadata(
                script_id=script.id, metadata=metadata_for(script.type, script.id, variant)
            )
        self.scripts[script.id] = t.handle(cmd)

    def start(self, script: Script) -> None:
        opener = c.EnqueueExecution if self.rng.random() < 0.3 else c.StartExecution
        execution = self.session(script.tenant_id).handle(
            opener(script_id=script.id, trigger={"type": "api"}, input={"n": 1})
        )
        self.executions[execution.id] = execution

    def finish(self, execution: Execution) -> None:
        t = self.session(execution.tenant_id)
        if execution.status.value == "pending" and self.rng.random() < 0.5:
            done = t.handle(c.BeginExecution(execution_id=execution.id))
        else:
            status = self.rng.choice(["completed", "failed", "timeout"])
            done = t.handle(
                c.CompleteExecution(
                    execution_id=execution.id, status=status, result={"output": "ok"}
                )
            )
        self.executions[execution.id] = done

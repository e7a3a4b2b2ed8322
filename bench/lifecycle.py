"""execution_lifecycle_ratio: an execution started and completed (10 log lines) ÷ two raw INSERTs.

The hot path of a host that runs scripts: `StartExecution` of a script, then `CompleteExecution`
with its output and ten log lines, as two commands. The baseline is what the bare database does
for the same two facts: two prepared autocommit INSERTs of the same payload sizes into a table
shaped like the event store. Rounds interleave both sides; the ratio is the median of the
per-round ratios (lifecycles per second ÷ INSERT pairs per second).
"""

from __future__ import annotations

import statistics
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg

from bench.cpu import CpuMeter
from bench.timing import ratio, timed_round
from bench.writers import RawWriter
from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c

LOG_LINES = 10


def _result(n: int) -> dict[str, Any]:
    at = datetime.now(UTC).isoformat()
    logs = [
        {"timestamp": at, "level": "info", "message": f"step {k} of run {n}: 42 items"}
        for k in range(LOG_LINES)
    ]
    return {"output": f"run {n}: done, 42 items", "logs": logs}


class LifecycleWriter:
    """Start an execution of one script, then complete it with output and ten log lines."""

    def __init__(self, module: ScriptsModule, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        self.t: TenantSession = module.tenant(tenant_id, user_id)
        script = self.t.handle(
            c.CreateScript(name=f"job {uuid.uuid4().hex[:8]}", content="run()", type="embedded")
        )
        self.script_id = script.id
        self.trigger = c.TriggerData(type="api")
        self.n = 0

    def step(self) -> None:
        self.n += 1
        started = self.t.handle(
            c.StartExecution(script_id=self.script_id, trigger=self.trigger, input={"n": self.n})
        )
        self.t.handle(
            c.CompleteExecution(execution_id=started.id, status="completed", result=_result(self.n))
        )


class RawPair:
    """Two prepared autocommit INSERTs: the start's payload, then the completion's."""

    def __init__(self, dsn: str, topic: str, sizes: tuple[int, int]) -> None:
        self.first = RawWriter(dsn, topic, sizes[0])
        self.second = RawWriter(dsn, topic, sizes[1], create=False)

    def step(self) -> None:
        self.first.step()
        self.second.step()

    def close(self) -> None:
        self.first.close()
        self.second.close()


def payload_sizes(admin_dsn: str, script_id: uuid.UUID) -> tuple[str, tuple[int, int]]:
    """(a topic, average stored bytes of the start and of the completion events)."""
    with psycopg.connect(admin_dsn) as conn:
        rows = conn.execute(
            "SELECT e.originator_version, min(e.topic), avg(octet_length(e.state))::int "
            "FROM scripts_es.events e JOIN scripts_es.executions x "
            "  ON x.tenant_id = e.tenant_id AND x.id = e.originator_id "
            "WHERE x.script_id = %s GROUP BY 1 ORDER BY 1",
            (script_id,),
        ).fetchall()
    assert len(rows) == 2, "no completed executions written yet"
    return str(rows[1][1]), (int(rows[0][2]), int(rows[1][2]))


def measure(dsn: str, *, rounds: int, ops: int, warmup: int) -> dict[str, Any]:
    module = ScriptsModule.open(dsn, install=False)
    raw: RawPair | None = None
    try:
        ours = LifecycleWriter(module, uuid.uuid4(), uuid.uuid4())
        for _ in range(warmup):
            ours.step()
        topic, sizes = payload_sizes(dsn, ours.script_id)
        raw = RawPair(dsn, topic, sizes)
        for _ in range(warmup):
            raw.step()
        writers: dict[str, Any] = {"scripts_es": ours, "raw": raw}
        rates: dict[str, list[float]] = {name: [] for name in writers}
        cpu = {name: CpuMeter(dsn) for name in writers}
        names = list(writers)
        for r in range(rounds):
            for name in names[r % 2 :] + names[: r % 2]:
                rates[name].append(timed_round(writers[name].step, ops, cpu[name]))
        for meter in cpu.values():
            meter.close()
    finally:
        if raw is not None:
            raw.close()
        module.close()
    paired = statistics.median(
        a / b for a, b in zip(rates["scripts_es"], rates["raw"], strict=True)
    )
    median = {name: statistics.median(values) for name, values in rates.items()}
    return {
        "execution_lifecycle_ratio": round(paired, 4),
        "execution_lifecycle": {
            "lifecycles_per_s": round(median["scripts_es"], 1),
            "raw_insert_pairs_per_s": round(median["raw"], 1),
            "ratio_of_medians": ratio(median["scripts_es"], median["raw"]),
            "payload_bytes": {"start": sizes[0], "complete": sizes[1]},
            "log_lines": LOG_LINES,
            "rounds": rounds,
            "ops_per_round": ops,
            "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "cpu": {name: meter.per_op_ms(rounds * ops) for name, meter in cpu.items()},
        },
    }

"""async_command_throughput_ratio: the async module with 8 tasks on one event loop ÷ the
blocking module with 8 threads, on the same server in the same run.

Each writer (task or thread) changes the content of its own script, one command after the
other, as the single-writer figure does (bench/writes.py). Both modules have the default pool
of 8 connections. Rounds alternate the two sides, so load from elsewhere hits both alike; the
figure is the median of the per-round ratios.
"""

from __future__ import annotations

import asyncio
import resource
import statistics
import threading
import time
import uuid
from typing import Any

from bench.timing import ratio
from bench.writers import FILLER, CommandWriter
from scripts_es import AsyncScriptsModule, AsyncTenantSession, ScriptsModule
from scripts_es import commands as c

WRITERS = 8


def _cpu() -> float:
    """CPU seconds of this process so far (every thread), user and system."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class AsyncCommandWriter:
    """`await t.handle(UpdateScriptContent(...))` on one script, new content every time."""

    def __init__(self, t: AsyncTenantSession) -> None:
        self.t = t
        self.script_id = uuid.uuid4()
        self.n = 0

    async def create(self) -> None:
        created = await self.t.handle(
            c.CreateScript(
                script_id=self.script_id, name=f"bench {self.script_id.hex[:8]}", content="x",
                type="embedded",
            )
        )  # fmt: skip
        self.script_id = created.id

    async def step(self) -> None:
        self.n += 1
        content = f"# revision {self.n}\n{FILLER}"
        await self.t.handle(c.UpdateScriptContent(script_id=self.script_id, content=content))


def _threads(writers: list[CommandWriter], ops: int) -> float:
    """Commands per second of every writer doing `ops` commands, each in its own thread."""
    barrier = threading.Barrier(len(writers) + 1)
    failures: list[BaseException] = []

    def work(writer: CommandWriter) -> None:
        try:
            barrier.wait()
            for _ in range(ops):
                writer.step()
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in writers]
    for thread in threads:
        thread.start()
    barrier.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if failures:
        raise failures[0]
    return len(writers) * ops / elapsed


async def _tasks(writers: list[AsyncCommandWriter], ops: int) -> float:
    """Commands per second of every writer doing `ops` commands, each in its own task."""

    async def work(writer: AsyncCommandWriter) -> None:
        for _ in range(ops):
            await writer.step()

    start = time.perf_counter()
    await asyncio.gather(*(work(w) for w in writers))
    return len(writers) * ops / (time.perf_counter() - start)


async def _measure(dsn: str, *, rounds: int, ops: int, warmup: int) -> dict[str, Any]:
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    rates: dict[str, list[float]] = {"async": [], "sync": []}
    cpu = {"async": 0.0, "sync": 0.0}  # client CPU seconds spent in the measured rounds
    with ScriptsModule.open(dsn, install=False) as blocking:
        async with AsyncScriptsModule.open(dsn, install=False) as asynchronous:
            threads = [CommandWriter(blocking, tenant_id, user_id) for _ in range(WRITERS)]
            t = asynchronous.tenant(tenant_id, user_id)
            tasks = [AsyncCommandWriter(t) for _ in range(WRITERS)]
            await asyncio.gather(*(w.create() for w in tasks))
            _threads(threads, warmup)
            await _tasks(tasks, warmup)
            for r in range(rounds):
                # The blocking side's threads never touch the loop, so it may block here.
                order = ("sync", "async") if r % 2 == 0 else ("async", "sync")
                for side in order:
                    before = _cpu()
                    if side == "sync":
                        rates["sync"].append(_threads(threads, ops))
                    else:
                        rates["async"].append(await _tasks(tasks, ops))
                    cpu[side] += _cpu() - before
    paired = [a / s for a, s in zip(rates["async"], rates["sync"], strict=True)]
    commands = rounds * ops * WRITERS
    median = {side: statistics.median(values) for side, values in rates.items()}
    return {
        "async_command_throughput_ratio": round(statistics.median(paired), 4),
        "async_command_throughput": {
            "writers": WRITERS,
            "async_8_tasks_cmd_per_s": round(median["async"], 1),
            "sync_8_threads_cmd_per_s": round(median["sync"], 1),
            "ratio_of_medians": ratio(median["async"], median["sync"]),
            # Client CPU per command: what the figure comes to when the cores are not shared.
            "async_client_cpu_us_per_cmd": round(cpu["async"] / commands * 1e6, 1),
            "sync_client_cpu_us_per_cmd": round(cpu["sync"] / commands * 1e6, 1),
            "rounds": rounds,
            "ops_per_writer_per_round": ops,
            "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        },
    }


def measure(dsn: str, *, rounds: int, ops: int, warmup: int) -> dict[str, Any]:
    return asyncio.run(_measure(dsn, rounds=rounds, ops=ops, warmup=warmup))

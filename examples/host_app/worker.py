"""A background worker: claims pending executions (any tenant) with a lease, runs each through
a pluggable `Runner`, completes it, and sweeps lapsed leases now and then.

Running script content is the host's business: `EchoRunner` only echoes the input back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any, Protocol
from uuid import UUID

import orjson

from scripts_es import AsyncScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Execution
from scripts_es.errors import InvalidTransition, NotFound, ScriptsError

log = logging.getLogger(__name__)

# The acting user recorded on completions (a real host has a service account for it).
WORKER_USER = UUID("00000000-0000-4000-8000-00000000c0de")


class Runner(Protocol):
    async def run(self, execution: Execution) -> dict[str, Any]:
        """The `result` of the run (`{"output": str, "error": str, "logs": [...]}`); raising
        fails the execution with the exception's text as its error."""
        ...


class EchoRunner:
    async def run(self, execution: Execution) -> dict[str, Any]:
        return {"output": orjson.dumps(execution.input).decode()}


class Worker:
    """Runs up to `concurrency` executions at once; claims only as many as it has room for,
    so claimed runs never wait behind each other for their lease to lapse."""

    def __init__(
        self,
        module: AsyncScriptsModule,
        runner: Runner,
        *,
        name: str = "host-app-worker",
        concurrency: int = 20,
        lease: float = 60.0,
        idle: float = 0.05,  # seconds between polls when nothing was pending
        sweep_every: float = 10.0,
        grace: float = 5.0,  # at stop, how long running runs may take to finish
    ) -> None:
        self.module, self.runner, self.name = module, runner, name
        self.concurrency, self.lease, self.idle = concurrency, lease, idle
        self.sweep_every, self.grace = sweep_every, grace
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        """Stop claiming; give running runs `grace` seconds, then cancel them (their claims
        time out when their lease ends: a later sweep completes them as `timeout`)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._running:
            _, late = await asyncio.wait(self._running, timeout=self.grace)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)

    async def _loop(self) -> None:
        swept = 0.0
        while True:
            claimed: list[Execution] = []
            try:
                if time.monotonic() - swept >= self.sweep_every:
                    swept = time.monotonic()
                    await self.module.sweep()
                room = self.concurrency - len(self._running)
                if room > 0:
                    claimed = await self.module.claim(self.name, limit=room, lease=self.lease)
            except ScriptsError as error:  # e.g. the database is away: wait and try again
                log.warning("worker: %s", error)
            for run in claimed:
                task = asyncio.create_task(self._run(run))
                self._running.add(task)
                task.add_done_callback(self._running.discard)
            if not claimed:
                await asyncio.sleep(self.idle)

    async def _run(self, run: Execution) -> None:
        try:
            result, status = await self.runner.run(run), "completed"
        except Exception as error:
            result, status = {"error": f"{type(error).__name__}: {error}"}, "failed"
        tenant = self.module.tenant(run.tenant_id, WORKER_USER)
        try:
            command = c.CompleteExecution(execution_id=run.id, status=status, result=result)
            await tenant.handle(command)
        except (InvalidTransition, NotFound) as error:  # swept meanwhile, or pruned
            log.warning("worker: %s not completed: %s", run.id, error)
        except ScriptsError as error:  # not completed: the sweep times it out after its lease
            log.error("worker: completing %s failed: %s", run.id, error)

"""Driving the async module from plain (sync) tests: an event loop in a thread of its own.

No pytest plugin is needed: `Loop.run(awaitable)` runs it on the loop and waits. The async
module and every coroutine of one file live on one loop (psycopg's async pools are bound to
the loop they were opened on). `Blocking` turns an async object's coroutine methods into
blocking calls, so the suite's contracts written against the sync surface run unchanged.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from scripts_es import AsyncScriptsModule, AsyncTenantSession
from tests.support.fixtures import SNAPSHOT_EVERY

T = TypeVar("T")
TIMEOUT = 120.0


async def _awaited(awaitable: Awaitable[T]) -> T:
    return await awaitable


class Loop:
    """An asyncio event loop running in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run `awaitable` on the loop; its result (or its exception, re-raised here)."""
        return asyncio.run_coroutine_threadsafe(_awaited(awaitable), self.loop).result(TIMEOUT)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@contextmanager
def running_loop() -> Iterator[Loop]:
    loop = Loop()
    try:
        yield loop
    finally:
        loop.close()


@contextmanager
def open_async_module(loop: Loop, dsn: str, **options: Any) -> Iterator[AsyncScriptsModule]:
    """The async module the suite tests (as `fixtures.open_module`), open on `loop`."""
    settings = {"snapshot_every": SNAPSHOT_EVERY, **options}
    module = loop.run(AsyncScriptsModule.open(dsn, install=False, **settings))
    try:
        yield module
    finally:
        loop.run(module.close())


class Blocking:
    """`target`'s coroutine methods as blocking calls on `loop`; other attributes as they are."""

    def __init__(self, target: Any, loop: Loop) -> None:
        self._target = target
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._target, name)
        if not callable(attribute):
            return attribute

        def call(*args: Any, **kwargs: Any) -> Any:
            outcome = attribute(*args, **kwargs)
            return self._loop.run(outcome) if asyncio.iscoroutine(outcome) else outcome

        return call


class BlockingTenant:
    """An `AsyncTenantSession` with the sync `TenantSession`'s surface, for shared contracts."""

    def __init__(self, tenant: AsyncTenantSession, loop: Loop) -> None:
        self.session = tenant.session
        self.scripts = Blocking(tenant.scripts, loop)
        self.executions = Blocking(tenant.executions, loop)
        self._tenant = tenant
        self._loop = loop

    def handle(self, command: Any) -> Any:
        return self._loop.run(self._tenant.handle(command))

"""Fixtures of the async suite: one event loop per test session, an async module per file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from scripts_es import AsyncScriptsModule
from tests.aio.support import Loop, open_async_module, running_loop


@pytest.fixture(scope="session")
def loop() -> Iterator[Loop]:
    with running_loop() as running:
        yield running


@pytest.fixture
def amodule(loop: Loop, dsn: str) -> Iterator[AsyncScriptsModule]:
    """An async module over the test's database (the file's, with `shared_dsn`)."""
    with open_async_module(loop, dsn) as module:
        yield module

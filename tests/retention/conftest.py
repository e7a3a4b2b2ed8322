"""Fixtures of the retention suite: a hand-driven clock and a raw superuser connection."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from scripts_es import ScriptsModule, TenantSession
from tests.retention.support import Clock, Raw


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def clocked(module: ScriptsModule, clock: Clock) -> ScriptsModule:
    """The test's module, reading time from `clock`."""
    return module.with_clock(clock)


@pytest.fixture
def session(clocked: ScriptsModule, tenant_id: uuid.UUID, user_id: uuid.UUID) -> TenantSession:
    """A tenant session whose events carry `clock`'s time."""
    return clocked.tenant(tenant_id, user_id)


@pytest.fixture
def raw(dsn: str) -> Iterator[Raw]:
    with Raw(dsn) as connection:
        yield connection

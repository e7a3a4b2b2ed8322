"""Fixtures of the retention suite: a tenant session on the hand-driven clock, and a raw
superuser connection (the clock and the clocked module are the suite's, tests/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from scripts_es import ScriptsModule, TenantSession
from tests.support.raw import Raw


@pytest.fixture
def session(clocked: ScriptsModule, tenant_id: uuid.UUID, user_id: uuid.UUID) -> TenantSession:
    """A tenant session whose events carry `clock`'s time."""
    return clocked.tenant(tenant_id, user_id)


@pytest.fixture
def raw(dsn: str) -> Iterator[Raw]:
    with Raw(dsn) as connection:
        yield connection

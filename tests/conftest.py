"""Shared fixtures. Storage tests run against a real PostgreSQL (see tests/pg.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

from scripts_es import ScriptsModule, TenantSession
from tests import pg

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    derandomize=True,  # CI runs the same examples every time; local runs explore
)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(scope="session")
def pg_server() -> str:
    """DSN of the session's PostgreSQL server (maintenance database)."""
    return pg.server_dsn()


@pytest.fixture(scope="session")
def pg_template(pg_server: str) -> str:
    return pg.ensure_template(pg_server)


@pytest.fixture
def dsn(pg_server: str, pg_template: str) -> Iterator[str]:
    """A throwaway database with the schema installed, dropped after the test."""
    name = pg.create_test_db(pg_server, pg_template)
    try:
        yield pg.with_db(pg_server, name)
    finally:
        pg.drop_test_db(pg_server, name)


@pytest.fixture
def module(dsn: str) -> Iterator[ScriptsModule]:
    with ScriptsModule.open(dsn, install=False, snapshot_every=10) as m:
        yield m


@pytest.fixture
def tenant_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def tenant(module: ScriptsModule, tenant_id: uuid.UUID, user_id: uuid.UUID) -> TenantSession:
    return module.tenant(tenant_id, user_id)

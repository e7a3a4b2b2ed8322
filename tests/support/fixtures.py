"""The suite's database fixtures: a server, a throwaway database per test, a module over it.

tests/conftest.py imports the fixtures every test may ask for. A file that needs only *a*
database imports `shared_dsn` and `shared_module` as well: they override `dsn` and `module`
with one database and one module per file, since cloning and dropping a database per test
dominates the suite's runtime. Tests sharing one stay independent because each takes fresh
tenant ids (the `tenant_id` fixture) and measures what it wrote as differences.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from scripts_es import ScriptsModule, TenantSession
from tests.support import pg
from tests.support.clock import Clock

SNAPSHOT_EVERY = 10  # small, so that tests cross snapshot boundaries


def open_module(dsn: str, **options: Any) -> ScriptsModule:
    """The module the suite tests: over an installed schema, snapshots every 10 events."""
    return ScriptsModule.open(dsn, install=False, **{"snapshot_every": SNAPSHOT_EVERY, **options})


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
    with pg.throwaway_db(pg_server, pg_template) as database:
        yield database


@pytest.fixture
def module(dsn: str) -> Iterator[ScriptsModule]:
    with open_module(dsn) as opened:
        yield opened


@pytest.fixture(scope="module", name="dsn")
def shared_dsn(pg_server: str, pg_template: str) -> Iterator[str]:
    """`dsn` for a whole file: import this fixture into the file to use it."""
    with pg.throwaway_db(pg_server, pg_template) as database:
        yield database


@pytest.fixture(scope="module", name="module")
def shared_module(dsn: str) -> Iterator[ScriptsModule]:
    """`module` for a whole file: import this fixture (with `shared_dsn`) into the file."""
    with open_module(dsn) as opened:
        yield opened


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[Callable[[], str]]:
    """A factory of empty databases (no scripts-es schema), all dropped after the test."""
    with ExitStack() as made:
        yield lambda: made.enter_context(pg.throwaway_db(pg_server, pg.EMPTY))


@pytest.fixture
def tenant_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def user_id() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def tenant(module: ScriptsModule, tenant_id: uuid.UUID, user_id: uuid.UUID) -> TenantSession:
    return module.tenant(tenant_id, user_id)


@pytest.fixture
def two_modules(dsn: str) -> Iterator[tuple[ScriptsModule, ScriptsModule]]:
    """Two modules on the test's database, each with its own aggregate cache: two processes of
    a host app."""
    with (
        ScriptsModule.open(dsn, install=False) as first,
        ScriptsModule.open(dsn, install=False) as second,
    ):
        yield first, second


@pytest.fixture
def one_tenant_twice(
    two_modules: tuple[ScriptsModule, ScriptsModule], tenant_id: uuid.UUID, user_id: uuid.UUID
) -> tuple[TenantSession, TenantSession]:
    """The test's tenant and user, once through each of `two_modules`."""
    return two_modules[0].tenant(tenant_id, user_id), two_modules[1].tenant(tenant_id, user_id)


@pytest.fixture
def clock() -> Clock:
    """A clock that moves only when the test says so."""
    return Clock()


@pytest.fixture
def clocked(module: ScriptsModule, clock: Clock) -> ScriptsModule:
    """The test's module, reading time from `clock`."""
    return module.with_clock(clock)

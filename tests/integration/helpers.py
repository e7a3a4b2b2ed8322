"""Helpers of the integration suite: raw superuser access, table counts, races, a settable clock.

"Raw" connections use the DSN's login role (a superuser, so row-level security does not apply to
it): they are the suite's independent view of what the module really wrote.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from uuid import UUID

import psycopg
import pytest
from psycopg import sql

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ScriptType
from tests import pg

T = TypeVar("T")
SCHEMA = "scripts_es"
EPOCH = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)

# Valid metadata for every script type, as a host app would send it (plain JSON).
METADATA: dict[ScriptType, dict[str, Any]] = {
    ScriptType.CRON: {"cron_expression": "*/5 * * * 1-5", "timezone": "Europe/Berlin"},
    ScriptType.HTTP: {"path": "/hooks/orders", "method": "post"},
    ScriptType.ONE_OFF: {},
    ScriptType.EMBEDDED: {},
}


def create_command(type_: ScriptType | str = ScriptType.ONE_OFF, **fields: Any) -> c.CreateScript:
    """A valid CreateScript of `type_`; `fields` override the defaults."""
    script_type = ScriptType(type_)
    values: dict[str, Any] = {
        "name": f"{script_type.value} script",
        "content": "print('hello')",
        "type": script_type,
        "metadata": METADATA[script_type],
    }
    values.update(fields)
    return c.CreateScript(**values)


# -- one database per test file ----------------------------------------------------------------
#
# Cloning and dropping a database per test dominates the suite's runtime, so the files that only
# need *a* database import these two fixtures (overriding tests/conftest.py's function-scoped
# `dsn` and `module`): one database and one module per file. Tests stay independent because each
# takes fresh tenant ids (the `tenant_id` fixture) and measures what it wrote as differences.


@pytest.fixture(scope="module", name="dsn")
def shared_dsn(pg_server: str, pg_template: str) -> Iterator[str]:
    name = pg.create_test_db(pg_server, pg_template)
    try:
        yield pg.with_db(pg_server, name)
    finally:
        pg.drop_test_db(pg_server, name)


@pytest.fixture(scope="module", name="module")
def shared_module(dsn: str) -> Iterator[ScriptsModule]:
    with ScriptsModule.open(dsn, install=False, snapshot_every=10) as module:
        yield module


# -- raw access (superuser) ------------------------------------------------------------------


@contextmanager
def raw(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An autocommit connection as the DSN's login role (a superuser: RLS does not apply)."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        yield conn


def base_tables(conn: psycopg.Connection[Any]) -> list[str]:
    rows = conn.execute(
        "SELECT table_name FROM information_schema.tables"
        " WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name",
        (SCHEMA,),
    ).fetchall()
    return [name for (name,) in rows]


def tenant_tables(conn: psycopg.Connection[Any]) -> list[str]:
    """Every base table of the schema that has a tenant_id column (new tables included)."""
    rows = conn.execute(
        "SELECT c.table_name FROM information_schema.columns c"
        " JOIN information_schema.tables t"
        "   ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
        " WHERE c.table_schema = %s AND c.column_name = 'tenant_id'"
        "   AND t.table_type = 'BASE TABLE'"
        " ORDER BY c.table_name",
        (SCHEMA,),
    ).fetchall()
    return [name for (name,) in rows]


def table(name: str) -> sql.Composable:
    return sql.Identifier(SCHEMA, name)


def row_counts(dsn: str) -> dict[str, int]:
    """Rows of every table of the schema, as the superuser sees them."""
    with raw(dsn) as conn:
        return {
            name: conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table(name))).fetchone()[0]
            for name in base_tables(conn)
        }


def stream_versions(dsn: str, stream_id: UUID) -> list[int]:
    """The versions stored in one event stream (any tenant), ascending."""
    with raw(dsn) as conn:
        rows = conn.execute(
            "SELECT originator_version FROM scripts_es.events"
            " WHERE originator_id = %s ORDER BY originator_version",
            (stream_id,),
        ).fetchall()
    return [v for (v,) in rows]


def snapshot_versions(dsn: str, stream_id: UUID) -> list[int]:
    with raw(dsn) as conn:
        rows = conn.execute(
            "SELECT originator_version FROM scripts_es.snapshots"
            " WHERE originator_id = %s ORDER BY originator_version",
            (stream_id,),
        ).fetchall()
    return [v for (v,) in rows]


def terminate_module_connections(dsn: str) -> int:
    """Kill every other backend of the test database (the module's pooled connections)."""
    with raw(dsn) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    return len(rows)


# -- a settable clock --------------------------------------------------------------------------


class Clock:
    """A thread-safe clock for `ScriptsModule.with_clock`: time moves only when told to."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now


# -- races ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def race(n: int, work: Callable[[int], T], *, timeout: float = 30.0) -> list[Outcome[T]]:
    """Run `work(i)` in `n` threads released together by a barrier; collect what each got."""
    barrier = threading.Barrier(n)
    outcomes: list[Outcome[T]] = [Outcome() for _ in range(n)]

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcomes[i] = Outcome(value=work(i))
        except BaseException as error:
            outcomes[i] = Outcome(error=error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a racing thread hung"
    return outcomes


def lock_waiters(conn: psycopg.Connection[Any]) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        "   AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0])


def race_past_the_command_log(
    dsn: str, n: int, work: Callable[[int], T], *, timeout: float = 10.0
) -> list[Outcome[T]]:
    """Race `n` commands so that every one passes its command_id check before any commits.

    A superuser holds `LOCK TABLE scripts_es.commands IN EXCLUSIVE MODE` (reads of the command
    log still pass, inserts wait) until all `n` transactions wait on a lock, then lets go. This
    turns the "second request arrives while the first is still in flight" race into a
    deterministic one.
    """
    with raw(dsn) as watcher, psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE scripts_es.commands IN EXCLUSIVE MODE")
        outcomes: list[Outcome[T]] = [Outcome() for _ in range(n)]

        def run(i: int) -> None:
            try:
                outcomes[i] = Outcome(value=work(i))
            except BaseException as error:
                outcomes[i] = Outcome(error=error)

        threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + timeout
        while lock_waiters(watcher) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock_waiters(watcher) >= n, "the racing commands never met at the command log"
        locker.rollback()
    for thread in threads:
        thread.join(30.0)
        assert not thread.is_alive(), "a racing thread hung"
    return outcomes


def errors_of(outcomes: list[Outcome[Any]]) -> list[BaseException]:
    return [o.error for o in outcomes if o.error is not None]


def values_of(outcomes: list[Outcome[T]]) -> list[T]:
    return [o.value for o in outcomes if o.error is None]  # type: ignore[misc]

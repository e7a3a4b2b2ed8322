"""Connection pools and transactions: tenant-scoped (RLS role) or maintenance."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from scripts_es.errors import StorageUnavailable
from scripts_es.store.errors import translated
from scripts_es.store.sql import load, schema_sql

T = TypeVar("T")
Conn = psycopg.Connection[Any]

APP_ROLE = "scripts_es_app"
MAINT_ROLE = "scripts_es_maint"
Q = load("scripts_es.store", "queries.sql")
BEGIN = sql.SQL("BEGIN")
COMMIT = sql.SQL("COMMIT")


def _json_dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def install_schema(dsn: str) -> None:
    """Apply schema.sql in one transaction (idempotent; serialised by an advisory lock)."""
    with translated(), psycopg.connect(dsn, autocommit=False) as conn:
        conn.execute(schema_sql().encode())
        conn.commit()


def _configure_for(role: str, *, autocommit: bool) -> Callable[[Conn], None]:
    def configure(conn: Conn) -> None:
        set_json_dumps(_json_dumps, conn)
        set_json_loads(orjson.loads, conn)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        conn.execute("SET application_name = 'scripts-es'")
        conn.execute("SET TIME ZONE 'UTC'")
        conn.commit()
        conn.autocommit = autocommit

    return configure


class Database:
    """Two pools on one DSN: tenant work as scripts_es_app, maintenance as scripts_es_maint."""

    def __init__(self, dsn: str, *, max_size: int = 8, retries: int = 3) -> None:
        self.dsn = dsn
        self.retries = retries
        self._app = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            configure=_configure_for(APP_ROLE, autocommit=True),
            open=False,
            timeout=10.0,
            name="scripts-es-app",
        )
        self._maint = ConnectionPool(
            dsn,
            min_size=0,
            max_size=max(2, max_size // 2),
            configure=_configure_for(MAINT_ROLE, autocommit=False),
            open=False,
            timeout=10.0,
            name="scripts-es-maint",
        )

    def open(self) -> None:
        with translated():
            self._app.open(wait=True, timeout=15.0)
            self._maint.open()

    def close(self) -> None:
        self._app.close()
        self._maint.close()

    @contextmanager
    def tenant(self, tenant_id: UUID) -> Iterator[Conn]:
        """One pipelined transaction that sees only `tenant_id`'s rows.

        BEGIN, the tenant setting, the statements and COMMIT travel together: a transaction
        that only writes costs one round trip. Results fetched inside force a sync.
        """
        with translated(), self._app.connection() as conn:
            try:
                with conn.pipeline():
                    conn.execute(BEGIN)
                    conn.execute(Q["set_tenant"], {"tenant_id": str(tenant_id)}, prepare=True)
                    yield conn
                    conn.execute(COMMIT)
            finally:
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.rollback()

    @contextmanager
    def maintenance(self) -> Iterator[Conn]:
        """One transaction across all tenants (policy of the maintenance role)."""
        with translated(), self._maint.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def maintenance_connection(self) -> Iterator[Conn]:
        """A maintenance connection for work spanning several transactions of its own."""
        with translated(), self._maint.connection() as conn:
            yield conn

    def retrying(self, work: Callable[[int], T]) -> T:
        """Run `work(attempt)` again after a transient failure; `work` must be safe to repeat."""
        for attempt in range(self.retries + 1):
            try:
                return work(attempt)
            except StorageUnavailable:
                if attempt == self.retries:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

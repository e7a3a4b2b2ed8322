"""Connection pools and transactions: tenant-scoped (RLS role) or maintenance."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar
from uuid import UUID

import orjson
import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg.pq import TransactionStatus
from psycopg.types.json import set_json_dumps, set_json_loads
from psycopg_pool import ConnectionPool

from scripts_es.errors import StorageError, StorageUnavailable
from scripts_es.store.errors import translated
from scripts_es.store.sql import load, schema_sql

T = TypeVar("T")
Conn = psycopg.Connection[Any]

APP_ROLE = "scripts_es_app"
MAINT_ROLE = "scripts_es_maint"
Q = load("scripts_es.store", "queries.sql")
BEGIN = sql.SQL("BEGIN")
COMMIT = sql.SQL("COMMIT")


class _QuietAbortedPipelines(logging.Filter):
    """psycopg logs every pipeline aborted by an expected conflict; those are ours to report."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pipeline aborted" not in record.getMessage()


logging.getLogger("psycopg").addFilter(_QuietAbortedPipelines())


def _json_dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def with_timeout(dsn: str, seconds: int = 10) -> str:
    """The DSN with a connect timeout unless it sets one: a silent host fails in seconds."""
    if "connect_timeout" in conninfo_to_dict(dsn):
        return dsn
    return make_conninfo(dsn, connect_timeout=seconds)


def installed_digest(conn: Conn) -> str | None:
    """Digest of the schema.sql last applied to this database, or None if never."""
    present = conn.execute(Q["schema_present"]).fetchone()
    if not present or not present[0]:
        return None
    row = conn.execute(Q["schema_digest"]).fetchone()
    return None if row is None else str(row[0])


def install_schema(dsn: str, *, force: bool = False) -> bool:
    """Apply schema.sql in one transaction unless this exact schema is already installed.

    Re-applying is harmless but takes strong locks on live tables, so a recorded digest of
    schema.sql short-circuits it. Returns whether the schema was applied.
    """
    text = schema_sql()
    digest = hashlib.sha256(text.encode()).hexdigest()
    with translated(), psycopg.connect(with_timeout(dsn), autocommit=False) as conn:
        if not force and installed_digest(conn) == digest:
            conn.rollback()
            return False
        conn.execute(text.encode())
        conn.execute(Q["record_schema_digest"], {"digest": digest})
        conn.commit()
    return True


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
        """Connect the pools; an unreachable server or missing schema fails at once, clearly."""
        with translated(), psycopg.connect(with_timeout(self.dsn)) as probe:
            if installed_digest(probe) is None:
                raise StorageError(
                    "the scripts-es schema is not installed: run `scripts-es db install`"
                )
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

    def fetch(self, tenant_id: UUID, query: str, params: Any) -> list[Any]:
        """One statement for `tenant_id` in one round trip: the tenant setting and the query
        share the pipeline's implicit transaction (no BEGIN/COMMIT needed)."""
        with translated(), self._app.connection() as conn:
            with conn.pipeline():
                conn.execute(Q["set_tenant"], {"tenant_id": str(tenant_id)}, prepare=True)
                cursor = conn.execute(query, params, prepare=True)
            return cursor.fetchall()

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
                # Drop pooled connections that died with the outage before trying again.
                self._app.check()
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

"""Connection pools and transactions: tenant-scoped (RLS role) or maintenance."""

from __future__ import annotations

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

from scripts_es.errors import PermissionDenied, StorageUnavailable
from scripts_es.store import migrations
from scripts_es.store.errors import translated
from scripts_es.store.sql import load

T = TypeVar("T")
Conn = psycopg.Connection[Any]

APP_ROLE = "scripts_es_app"
MAINT_ROLE = "scripts_es_maint"
QUERIES = load("scripts_es.store", "queries.sql")
BEGIN = sql.SQL("BEGIN")
COMMIT = sql.SQL("COMMIT")
# After a transaction that appended events: wake the event feed's listeners. A transaction of
# its own after the COMMIT, in the same pipeline (no extra round trip): NOTIFY inside the
# write would serialise every writer's commit on the server's notification lock.
ANNOUNCE = sql.SQL("SELECT pg_notify('scripts_es_feed', '')")


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


def install_schema(dsn: str) -> tuple[int | None, int]:
    """Install the schema or apply its pending migrations; (version before, version after)."""
    return migrations.upgrade(with_timeout(dsn))


def _member_of(conn: Conn, role: str) -> bool:
    row = conn.execute(QUERIES["member_of"], {"role": role}).fetchone()
    return bool(row and row[0])


def session_setup(role: str) -> list[sql.SQL | sql.Composed]:
    """What every pooled connection runs once: its role, its name, UTC (both drivers)."""
    return [
        sql.SQL("SET ROLE {}").format(sql.Identifier(role)),
        sql.SQL("SET application_name = 'scripts-es'"),
        sql.SQL("SET TIME ZONE 'UTC'"),
    ]


def json_adapters(conn: psycopg.Connection[Any] | psycopg.AsyncConnection[Any]) -> None:
    """orjson for json/jsonb in both directions on `conn`."""
    set_json_dumps(_json_dumps, conn)
    set_json_loads(orjson.loads, conn)


def _configure_for(role: str, *, autocommit: bool) -> Callable[[Conn], None]:
    def configure(conn: Conn) -> None:
        json_adapters(conn)
        for statement in session_setup(role):
            conn.execute(statement)
        conn.commit()
        conn.autocommit = autocommit

    return configure


def check_app_login(dsn: str) -> None:
    """Refuse, clearly, an unreachable server, a schema at another version, or a login that
    may not act as scripts_es_app (a one-off blocking probe, also for the asyncio driver)."""
    with translated(), psycopg.connect(with_timeout(dsn)) as probe:
        migrations.check(probe)
        if not _member_of(probe, APP_ROLE):
            raise PermissionDenied(
                f"the login {probe.info.user!r} is not a member of {APP_ROLE}: "
                f"an owner must `GRANT {APP_ROLE} TO {probe.info.user}`"
            )


def maintenance_refusal(dsn: str) -> str:
    """Why maintenance is refused with this login ("" if it is allowed): a blocking probe."""
    with translated(), psycopg.connect(with_timeout(dsn)) as probe:
        allowed, user = _member_of(probe, MAINT_ROLE), probe.info.user
    if allowed:
        return ""
    return (
        "maintenance (projection runner, rebuild, verify, cross-tenant prune) needs a "
        f"login that is a member of {MAINT_ROLE}, and {user!r} is not: open the module "
        "with maintenance_dsn=<an operator's DSN>, or run `scripts-es` with "
        "--dsn <an operator's DSN>"
    )


class Database:
    """Two pools: tenant work as scripts_es_app, maintenance as scripts_es_maint.

    Both may share one DSN (an owner's or operator's login), or maintenance may have a login
    of its own (`maintenance_dsn`), so that the host app's login needs scripts_es_app only.
    """

    def __init__(
        self,
        dsn: str,
        *,
        max_size: int = 8,
        retries: int = 3,
        maintenance_dsn: str | None = None,
    ) -> None:
        self.dsn = dsn
        self.maintenance_dsn = maintenance_dsn or dsn
        self.retries = retries
        self._maintenance_refused: str | None = None  # why maintenance is refused, once known
        self._announcing: set[int] = set()  # connections whose transaction appended events
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
            self.maintenance_dsn,
            min_size=0,
            max_size=max(2, max_size // 2),
            configure=_configure_for(MAINT_ROLE, autocommit=False),
            open=False,
            timeout=10.0,
            name="scripts-es-maint",
        )

    def open(self) -> None:
        """Connect the pools; an unreachable server, a schema at another version or a login
        that may not act as scripts_es_app fails at once, clearly."""
        check_app_login(self.dsn)
        with translated():
            self._app.open(wait=True, timeout=15.0)
            self._maint.open()

    def _check_maintenance(self) -> None:
        """Maintenance needs a login that is a member of scripts_es_maint: say so clearly."""
        if self._maintenance_refused is None:
            self._maintenance_refused = maintenance_refusal(self.maintenance_dsn)
        if self._maintenance_refused:
            raise PermissionDenied(self._maintenance_refused)

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
                    conn.execute(QUERIES["set_tenant"], {"tenant_id": str(tenant_id)}, prepare=True)
                    yield conn
                    conn.execute(COMMIT)
                    if id(conn) in self._announcing:
                        conn.execute(ANNOUNCE)
            finally:
                self._announcing.discard(id(conn))
                if conn.info.transaction_status != TransactionStatus.IDLE:
                    conn.rollback()

    @staticmethod
    def announce_now(conn: Conn) -> None:
        """Wake the feed's listeners at once, in a transaction of its own (after a maintenance
        transaction that appended events committed)."""
        conn.execute(ANNOUNCE)
        conn.commit()

    def announce_events(self, conn: Conn) -> None:
        """Wake the feed's listeners once this tenant transaction has committed."""
        self._announcing.add(id(conn))

    def fetch(self, tenant_id: UUID, query: str, params: Any) -> list[Any]:
        """One statement for `tenant_id` in one round trip: the tenant setting and the query
        share the pipeline's implicit transaction (no BEGIN/COMMIT needed)."""
        with translated(), self._app.connection() as conn:
            with conn.pipeline():
                conn.execute(QUERIES["set_tenant"], {"tenant_id": str(tenant_id)}, prepare=True)
                cursor = conn.execute(query, params, prepare=True)
            return cursor.fetchall()

    @contextmanager
    def maintenance(self) -> Iterator[Conn]:
        """One transaction across all tenants (policy of the maintenance role)."""
        self._check_maintenance()
        with translated(), self._maint.connection() as conn, conn.transaction():
            yield conn

    @contextmanager
    def maintenance_connection(self) -> Iterator[Conn]:
        """A maintenance connection for work spanning several transactions of its own."""
        self._check_maintenance()
        with translated(), self._maint.connection() as conn:
            yield conn

    def refresh(self) -> None:
        """Drop pooled tenant connections that died with an outage (before a retry)."""
        self._app.check()

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

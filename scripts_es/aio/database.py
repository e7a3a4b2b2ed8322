"""Async connection pools and transactions: the twin of `scripts_es/store/database.py`.

The same pools (tenant work as scripts_es_app, maintenance as scripts_es_maint), the same
session set-up, the same pipelined `BEGIN; set tenant; …; COMMIT`, the same error translation;
the one-off probes at open run the blocking ones in a thread.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar
from uuid import UUID

import psycopg
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool

from scripts_es.errors import PermissionDenied
from scripts_es.store.database import (
    ANNOUNCE,
    APP_ROLE,
    BEGIN,
    COMMIT,
    MAINT_ROLE,
    QUERIES,
    check_app_login,
    json_adapters,
    maintenance_refusal,
    session_setup,
)
from scripts_es.store.errors import translated

AsyncConn = psycopg.AsyncConnection[Any]
T = TypeVar("T")


def _configure_for(role: str, *, autocommit: bool) -> Callable[[AsyncConn], Awaitable[None]]:
    async def configure(conn: AsyncConn) -> None:
        json_adapters(conn)
        for statement in session_setup(role):
            await conn.execute(statement)
        await conn.commit()
        await conn.set_autocommit(autocommit)

    return configure


class AsyncDatabase:
    """Two async pools, opened by `open()` (never in the constructor, as psycopg_pool asks)."""

    def __init__(
        self,
        dsn: str,
        *,
        max_size: int = 8,
        maintenance_dsn: str | None = None,
    ) -> None:
        self.dsn = dsn
        self.maintenance_dsn = maintenance_dsn or dsn
        self._maintenance_refused: str | None = None
        self._announcing: set[int] = set()  # connections whose transaction appended events
        self._app = AsyncConnectionPool(
            dsn,
            min_size=1,
            max_size=max_size,
            configure=_configure_for(APP_ROLE, autocommit=True),
            open=False,
            timeout=10.0,
            name="scripts-es-app-async",
        )
        self._maint = AsyncConnectionPool(
            self.maintenance_dsn,
            min_size=0,
            max_size=max(2, max_size // 2),
            configure=_configure_for(MAINT_ROLE, autocommit=False),
            open=False,
            timeout=10.0,
            name="scripts-es-maint-async",
        )

    async def open(self) -> None:
        """Connect the pools; fails at once, clearly, as the blocking `Database.open`."""
        await asyncio.to_thread(check_app_login, self.dsn)
        with translated():
            await self._app.open(wait=True, timeout=15.0)
            await self._maint.open()

    async def close(self) -> None:
        await self._app.close()
        await self._maint.close()

    async def refresh(self) -> None:
        """Drop pooled tenant connections that died with an outage (before a retry)."""
        await self._app.check()

    async def in_tenant(self, tenant_id: UUID, work: Callable[[AsyncConn], Awaitable[T]]) -> T:
        """`work(conn)` in one pipelined transaction that sees only `tenant_id`'s rows.

        The twin of `Database.tenant`, as a coroutine rather than a context manager: an
        asyncio context manager costs several awaits of its own on every command.
        """
        with translated():
            conn = await self._app.getconn()
            try:
                try:
                    async with conn.pipeline():
                        await conn.execute(BEGIN)
                        await conn.execute(
                            QUERIES["set_tenant"], {"tenant_id": str(tenant_id)}, prepare=True
                        )
                        done = await work(conn)
                        await conn.execute(COMMIT)
                        if id(conn) in self._announcing:
                            await conn.execute(ANNOUNCE)
                    return done
                finally:
                    self._announcing.discard(id(conn))
                    if conn.info.transaction_status != TransactionStatus.IDLE:
                        await conn.rollback()
            finally:
                await self._app.putconn(conn)

    def announce_events(self, conn: AsyncConn) -> None:
        """Wake the feed's listeners once this tenant transaction has committed."""
        self._announcing.add(id(conn))

    async def fetch(self, tenant_id: UUID, query: str, params: Any) -> list[Any]:
        """One statement for `tenant_id` in one round trip (the pipeline's implicit transaction)."""
        with translated():
            async with self._app.connection() as conn:
                async with conn.pipeline():
                    await conn.execute(
                        QUERIES["set_tenant"], {"tenant_id": str(tenant_id)}, prepare=True
                    )
                    cursor = await conn.execute(query, params, prepare=True)
                return await cursor.fetchall()

    @asynccontextmanager
    async def maintenance(self) -> AsyncIterator[AsyncConn]:
        """One transaction across all tenants (policy of the maintenance role)."""
        if self._maintenance_refused is None:
            self._maintenance_refused = await asyncio.to_thread(
                maintenance_refusal, self.maintenance_dsn
            )
        if self._maintenance_refused:
            raise PermissionDenied(self._maintenance_refused)
        with translated():
            async with self._maint.connection() as conn, conn.transaction():
                yield conn

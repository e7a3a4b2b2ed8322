"""The asyncio driver: the twin of `service/unit_of_work.py`, awaiting where it blocks.

It answers the same steps (`service/steps.py`) the same way: a `Transaction` in one
pipelined tenant transaction, a lone `Fetch` in one round trip, a `Pause` by sleeping; an
error of ours raised meanwhile is thrown back into the steps, which decide what it means.
`operate` does the same for operator steps (maintenance transactions, other tenants' work).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any
from uuid import UUID

from scripts_es.aio.database import AsyncConn, AsyncDatabase
from scripts_es.aio.session import AsyncSession
from scripts_es.errors import ScriptsError
from scripts_es.service.steps import (
    Fetch,
    Maintenance,
    Operator,
    Outer,
    OuterRequest,
    Pause,
    SqlSteps,
)

SessionFor = Callable[[UUID, UUID], AsyncSession]  # (tenant_id, user_id) -> a tenant session


async def run_sql(
    conn: AsyncConn, steps: SqlSteps, appended: Callable[[AsyncConn], None] | None = None
) -> Any:
    """Run a generator of SQL steps to its end inside `conn`'s open transaction; `appended`
    hears of each statement that appends events."""
    answer: Any = None
    try:
        while True:
            request = steps.send(answer)
            if isinstance(request, Fetch):
                cursor = await conn.execute(request.query, request.params, prepare=request.prepare)
                answer = await cursor.fetchall()
            else:
                await conn.execute(request.query, request.params, prepare=True)
                if request.appends and appended is not None:
                    appended(conn)
                answer = None
    except StopIteration as done:
        return done.value


async def drive(session: AsyncSession, steps: Outer) -> Any:
    """Run outer steps to their end; their return value (or the error they raise)."""
    answer: Any = None
    error: ScriptsError | None = None
    while True:
        try:
            request = steps.send(answer) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value
        answer = error = None
        try:
            answer = await _answer(session, request)
        except ScriptsError as failed:
            error = failed


async def _answer(session: AsyncSession, request: OuterRequest) -> Any:
    if isinstance(request, Fetch):
        return await session.db.fetch(session.tenant_id, request.query, request.params)
    if isinstance(request, Pause):
        if request.outage:
            await session.db.refresh()
        await asyncio.sleep(request.seconds)
        return None
    steps = request.steps()
    db = session.db  # listeners of the feed wake once the transaction committed
    return await db.in_tenant(
        session.tenant_id, lambda conn: run_sql(conn, steps, db.announce_events)
    )


async def operate(db: AsyncDatabase, session_for: SessionFor, steps: Operator) -> Any:
    """Run operator steps to their end: maintenance transactions, work in tenant sessions
    (one session per tenant and user for the whole run)."""
    sessions: dict[tuple[UUID, UUID], AsyncSession] = {}
    answer: Any = None
    error: ScriptsError | None = None
    while True:
        try:
            request = steps.send(answer) if error is None else steps.throw(error)
        except StopIteration as done:
            return done.value
        answer = error = None
        try:
            if isinstance(request, Maintenance):
                async with db.maintenance() as conn:
                    answer = await run_sql(conn, request.steps())
            else:
                key = (request.tenant_id, request.user_id)
                if key not in sessions:
                    sessions[key] = session_for(*key)
                answer = await drive(sessions[key], request.operation(sessions[key]))
        except ScriptsError as failed:
            error = failed

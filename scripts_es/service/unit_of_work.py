"""The blocking driver: runs the steps of `pipeline.py`, `operations.py`, `transaction.py`
and `maintenance.py` on the sync pools. It decides nothing; it only runs SQL
(scripts_es/aio/driver.py is its asyncio twin, line for line).

`drive` answers the outer steps: a `Transaction` in one pipelined tenant transaction (a
`UnitOfWork`), a lone `Fetch` in one round trip, a `Pause` by sleeping; an error of ours
raised meanwhile is thrown back into the steps, which decide what it means. `operate` does
the same for operator steps (maintenance transactions, work in other tenants' sessions).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from uuid import UUID

from scripts_es.errors import ScriptsError
from scripts_es.service import transaction
from scripts_es.service.session import Session
from scripts_es.service.steps import (
    Decision,
    Fetch,
    Maintenance,
    Operator,
    Outer,
    OuterRequest,
    Pause,
    SqlSteps,
    Steps,
)
from scripts_es.store.database import Conn, Database

SessionFor = Callable[[UUID, UUID], Session]  # (tenant_id, user_id) -> a tenant session


class UnitOfWork:
    """Answers SQL steps inside one open transaction of `session`'s tenant."""

    def __init__(self, session: Session, conn: Conn) -> None:
        self.session = session
        self.conn = conn

    def drive(self, steps: Steps | SqlSteps) -> Any:
        """Run a generator of steps (a decision's `Load`/`Hold`/`Fetch`, or SQL steps) to its
        end in this transaction, answering each; its return value."""
        return run_sql(self.conn, transaction.answered(self.session, steps, transaction.Attempt()))

    def write(self, decision: Decision) -> None:
        """Run everything the decision writes, in this transaction (no command log)."""
        self.drive(transaction.write(self.session, decision, transaction.Attempt()))


def run_sql(conn: Conn, steps: SqlSteps, appended: Callable[[Conn], None] | None = None) -> Any:
    """Run a generator of SQL steps to its end inside `conn`'s open transaction; `appended`
    hears of each statement that appends events."""
    answer: Any = None
    try:
        while True:
            request = steps.send(answer)
            if isinstance(request, Fetch):
                cursor = conn.execute(request.query, request.params, prepare=request.prepare)
                answer = cursor.fetchall()
            else:
                conn.execute(request.query, request.params, prepare=True)
                if request.appends and appended is not None:
                    appended(conn)
                answer = None
    except StopIteration as done:
        return done.value


def drive(session: Session, steps: Outer) -> Any:
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
            answer = _answer(session, request)
        except ScriptsError as failed:
            error = failed


def _answer(session: Session, request: OuterRequest) -> Any:
    if isinstance(request, Fetch):
        return session.db.fetch(session.tenant_id, request.query, request.params)
    if isinstance(request, Pause):
        if request.outage:
            session.db.refresh()
        time.sleep(request.seconds)
        return None
    with session.transaction() as conn:  # listeners of the feed wake once it committed
        return run_sql(conn, request.steps(), session.db.announce_events)


def operate(db: Database, session_for: SessionFor, steps: Operator) -> Any:
    """Run operator steps to their end: maintenance transactions, work in tenant sessions
    (one session per tenant and user for the whole run)."""
    sessions: dict[tuple[UUID, UUID], Session] = {}
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
                with db.maintenance() as conn:
                    answer = run_sql(conn, request.steps())
            else:
                key = (request.tenant_id, request.user_id)
                if key not in sessions:
                    sessions[key] = session_for(*key)
                answer = drive(sessions[key], request.operation(sessions[key]))
        except ScriptsError as failed:
            error = failed

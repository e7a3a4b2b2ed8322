"""The blocking driver: runs the steps of `pipeline.py`, `operations.py` and `transaction.py`
on the sync pool. It decides nothing; it only runs SQL (scripts_es/aio/driver.py is its
asyncio twin, line for line).

`drive` answers the outer steps: a `Transaction` in one pipelined tenant transaction (a
`UnitOfWork`), a lone `Fetch` in one round trip, a `Pause` by sleeping; an error of ours
raised meanwhile is thrown back into the steps, which decide what it means.
"""

from __future__ import annotations

import time
from typing import Any

from scripts_es.errors import ScriptsError
from scripts_es.service import transaction
from scripts_es.service.session import Session
from scripts_es.service.steps import Decision, Fetch, Outer, OuterRequest, Pause, SqlSteps
from scripts_es.store.database import Conn


class UnitOfWork:
    """Answers SQL steps inside one open transaction of `session`'s tenant."""

    def __init__(self, session: Session, conn: Conn) -> None:
        self.session = session
        self.conn = conn

    def drive(self, steps: SqlSteps) -> Any:
        """Run a generator of SQL steps to its end, answering each; its return value."""
        conn = self.conn
        answer: Any = None
        try:
            while True:
                request = steps.send(answer)
                if isinstance(request, Fetch):
                    cursor = conn.execute(request.query, request.params, prepare=request.prepare)
                    answer = cursor.fetchall()
                else:
                    conn.execute(request.query, request.params, prepare=True)
                    answer = None
        except StopIteration as done:
            return done.value

    def write(self, decision: Decision) -> None:
        """Run everything the decision writes, in this transaction (no command log)."""
        self.drive(transaction.write(self.session, decision, transaction.Attempt()))


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
    with session.transaction() as conn:
        return UnitOfWork(session, conn).drive(request.steps())

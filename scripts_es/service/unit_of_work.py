"""The unit of work: one tenant transaction that answers a decision's reads and runs its writes.

It is the blocking driver of the steps in `handlers.py`, `reads.py` and `retention.py`; it owns
the transaction (a pipelined BEGIN … COMMIT on the tenant pool) and the command log.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

import orjson

from scripts_es import commands
from scripts_es.domain import Execution, PruneResult, Script
from scripts_es.domain import execution as execution_fold
from scripts_es.domain import script as script_fold
from scripts_es.errors import Conflict
from scripts_es.service import writes
from scripts_es.service.session import Session
from scripts_es.service.steps import (
    Aggregate,
    Decision,
    Fetch,
    Hold,
    Kind,
    Load,
    Loaded,
    Result,
    Statement,
)
from scripts_es.store.database import QUERIES, Conn
from scripts_es.store.event_store import Fold

FOLDS: dict[str, Fold] = {"script": script_fold.fold, "execution": execution_fold.fold}
RESULT_KINDS: dict[str, type[Script] | type[Execution] | type[PruneResult]] = {
    "script": Script,
    "execution": Execution,
    "prune": PruneResult,
}


class UnitOfWork:
    """Drives steps inside one open transaction of `session`'s tenant."""

    def __init__(self, session: Session, conn: Conn) -> None:
        self.session = session
        self.conn = conn
        self.cached: dict[UUID, Aggregate] = {}  # states the decision read from the cache

    def drive(self, steps: Any) -> Any:
        """Run a generator of steps to its end, answering each request; its return value."""
        answer: Any = None
        try:
            while True:
                answer = self.answer(steps.send(answer))
        except StopIteration as done:
            return done.value

    def answer(self, request: Hold | Load | Fetch) -> Any:
        if isinstance(request, Hold):
            query = "share_streams" if request.shared else "hold_streams"
            self.conn.execute(QUERIES[query], {"ids": [request.stream_id]})
            return None
        if isinstance(request, Fetch):
            return self.conn.execute(request.query, request.params).fetchall()
        return self.load(request)

    def load(self, request: Load) -> Loaded:
        session = self.session
        if request.cached and request.upto is None:
            state = session.cache.get(session.tenant_id, request.stream_id)
            if state is not None:
                self.cached[request.stream_id] = state
                return Loaded(state, None)
        loaded = session.store.load(
            self.conn, session.tenant_id, request.stream_id, FOLDS[request.kind], upto=request.upto
        )
        if request.upto is None and loaded.state is not None:
            session.cache.put(loaded.state)  # the freshest state known: later commands use it
            if request.cached:
                self.cached[request.stream_id] = loaded.state
        return Loaded(loaded.state, loaded.horizon)

    def write(self, decision: Decision) -> None:
        """Run everything the decision writes, in this transaction."""
        session = self.session
        written = {aggregate.id for aggregate in decision.saved}
        if written:
            session.db.announce_events(self.conn)
        for aggregate in decision.saved:
            statements = writes.append(
                session.store,
                session.tenant_id,
                aggregate,
                project=session.settings.inline_projections,
            )
            for statement in statements[:-1]:
                self.execute(statement)
            cursor = self.execute(statements[-1])
            if not session.settings.inline_projections:
                row = cursor.fetchone()
                assert row is not None
                session.positions.stage((row[0], row[1]))
        for stream_id, state in self.cached.items():
            if stream_id not in written:
                # A no-op decided on a cached state stands only if the stream has not moved
                # since: checked here, before anything is recorded under the command_id.
                self.execute(writes.head_check(session.tenant_id, stream_id, state.version))
        for state in decision.snapshots:
            self.execute(writes.snapshot(session.store, session.tenant_id, state))
        for statement in decision.statements:
            self.execute(statement)

    def execute(self, statement: Statement) -> Any:
        return self.conn.execute(statement.query, statement.params, prepare=True)

    def replay(self, command: commands.Command) -> Result | None:
        """The stored result of an earlier handling of this command_id, if any."""
        row = self.conn.execute(
            QUERIES["find_command"],
            {"tenant_id": self.session.tenant_id, "command_id": command.command_id},
        ).fetchone()
        if row is None:
            return None
        kind, data = row
        name, _, result_kind = kind.partition(":")
        if name != type(command).__name__:
            raise Conflict(
                f"command_id {command.command_id} was already used for a {name}, "
                f"not a {type(command).__name__}; use a fresh command_id"
            )
        return RESULT_KINDS[result_kind].model_validate(orjson.loads(data))

    def record(self, command: commands.Command, result: Result) -> None:
        """Keep the result under the command's id, in this transaction."""
        assert isinstance(result, Script | Execution | PruneResult)
        kind = {Script: "script", Execution: "execution", PruneResult: "prune"}[type(result)]
        self.conn.execute(
            QUERIES["record_command"],
            {
                "tenant_id": self.session.tenant_id,
                "command_id": command.command_id,
                "kind": f"{type(command).__name__}:{kind}",
                "result": orjson.dumps(result.model_dump(mode="json")),
            },
        )

    def committed(self, decision: Decision) -> bool:
        """After an in-doubt commit: are the decision's events in the store (it committed)?"""
        if not decision.saved:
            return False
        first = decision.saved[0].pending_events[0]
        params = self.session.store.committed_params(self.session.tenant_id, first)
        row = self.conn.execute(QUERIES["event_exists"], params).fetchone()
        return bool(row and row[0])


def read(session: Session, steps: Callable[[], Any]) -> Any:
    """Run read steps in one tenant transaction, retried after a transient failure."""

    def attempt(_number: int) -> Any:
        with session.transaction() as conn:
            return UnitOfWork(session, conn).drive(steps())

    return session.db.retrying(attempt)


def fetch(session: Session, query: str, params: Any) -> list[Any]:
    """One read statement in one round trip, retried after a transient failure."""
    return session.db.retrying(lambda _: session.db.fetch(session.tenant_id, query, params))


def current_state(session: Session, kind: Kind, stream_id: UUID) -> Aggregate | None:
    """A stream's current state in one round trip (reads never use the command cache)."""
    params = session.store.load_params(session.tenant_id, stream_id)
    rows = fetch(session, QUERIES["load_stream"], params)
    state: Aggregate | None = session.store.fold_rows(stream_id, rows, FOLDS[kind]).state
    return state

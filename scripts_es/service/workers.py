"""Running what the module stores (DESIGN §10): the schedules that are due, workers' claims of
pending executions, and the sweep that times out claims whose lease lapsed.

Claims and sweeps work across tenants in one maintenance transaction each: the rows are picked
with `FOR UPDATE SKIP LOCKED` (scripts_es.pick_executions), so two workers never get the same
execution, and each picked execution is decided by the domain (`begin`, `complete`) and
appended under its stream's lock, like any command.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from projections import decode
from projections.finders import EXECUTION_COLUMNS
from scripts_es.domain import Execution, ExecutionStatus
from scripts_es.domain import execution as execution_fold
from scripts_es.domain import validation as v
from scripts_es.domain.events import ExecutionEvent
from scripts_es.domain.schedule import DueRun
from scripts_es.domain.values import utc
from scripts_es.errors import InvalidInput
from scripts_es.service import writes
from scripts_es.service.steps import Statement
from scripts_es.settings import Settings
from scripts_es.store.cache import AggregateCache
from scripts_es.store.database import QUERIES, Database
from scripts_es.store.event_store import EventStore
from scripts_es.store.sql import load_templates, render

_PICKS = load_templates("scripts_es.service", "workers.sql")
PICK_ROWS = {
    "pending": render(_PICKS["pick_pending"].format(columns=EXECUTION_COLUMNS)),
    "lapsed": render(_PICKS["pick_lapsed"].format(columns=EXECUTION_COLUMNS)),
}
MAX_BATCH = 1_000  # executions one claim or sweep takes at most
MAX_LEASE = timedelta(days=7)
MAX_WORKER = 200  # characters of a worker's name
TIMED_OUT = "lease of worker {worker!r} expired at {expired} with no completion"


def check_due(until: datetime, limit: int) -> dict[str, Any]:
    """The `due_runs` parameters, or InvalidInput naming what is wrong."""
    return {
        "until": utc(until, "until"),
        "limit": v.whole_number("limit", limit, 1, MAX_BATCH * 10, "a number of runs"),
    }


def due_runs(rows: Sequence[Any]) -> list[DueRun]:
    return [DueRun(tenant, script, version, slot) for tenant, script, version, slot in rows]


def check_claim(worker: object, limit: object, lease: object) -> tuple[str, int, timedelta]:
    """A claim's arguments, or InvalidInput saying what to fix."""
    if not isinstance(worker, str) or not worker.strip() or len(worker) > MAX_WORKER:
        raise InvalidInput("worker", f"must name the worker in 1 to {MAX_WORKER} characters")
    v.no_nul("worker", worker)
    checked = v.whole_number("limit", limit, 1, MAX_BATCH, "a number of executions")
    if isinstance(lease, int | float) and not isinstance(lease, bool):
        lease = timedelta(seconds=lease)
    if not isinstance(lease, timedelta) or not timedelta(0) < lease <= MAX_LEASE:
        raise InvalidInput("lease", "must be a duration (seconds or a timedelta) up to 7 days")
    return worker, checked, lease


Decide = Callable[[Execution], Execution | None]


@dataclass(frozen=True)
class Pick:
    """One claim or sweep, decided without I/O: what to pick, and what each picked run becomes."""

    due: str  # 'pending' (claim) or 'lapsed' (sweep)
    limit: int
    now: datetime
    decide: Decide

    def statement(self, settings: Settings) -> Statement:
        """What picks the runs: their rows when the read model is inline (current under the
        row lock), else their events (read after the stream locks were granted)."""
        params = {"due": self.due, "limit": self.limit, "now": self.now}
        if settings.inline_projections:
            return Statement(PICK_ROWS[self.due], params)
        return Statement(QUERIES["pick_executions"], params)

    def writes(
        self, store: EventStore, settings: Settings, rows: Sequence[Any]
    ) -> tuple[list[Execution], list[Statement]]:
        """The picked runs' new states, and the statements that append their events."""
        done: list[Execution] = []
        statements: list[Statement] = []
        picked = (
            map(decode.execution_from_row, rows)
            if settings.inline_projections
            else _fold(store, rows)
        )
        for run in picked:
            changed = self.decide(run)
            if changed is None:
                continue
            statements += writes.append(
                store, run.tenant_id, changed, project=settings.inline_projections
            )
            done.append(changed.without_pending())
        return done, statements


def claiming(settings: Settings, worker: str, *, limit: int, lease: timedelta) -> Pick:
    """Up to `limit` of the oldest pending executions, to running for `worker` until `lease`
    ends (a picked run the read model showed pending but its events do not is left alone)."""
    now = settings.clock()
    expires = now + lease

    def begin(run: Execution) -> Execution | None:
        if run.status is not ExecutionStatus.PENDING:  # the read model was behind its events
            return None
        return run.begin(at=now, worker=worker, lease_expires_at=expires)

    return Pick("pending", limit, now, begin)


def sweeping(settings: Settings, *, limit: int) -> Pick:
    """Up to `limit` running executions whose lease ended before now, completed as timeout."""
    v.whole_number("limit", limit, 1, MAX_BATCH, "a number of executions")
    now = settings.clock()

    def time_out(run: Execution) -> Execution | None:
        expired = run.lease_expires_at
        if run.status is not ExecutionStatus.RUNNING or expired is None or expired >= now:
            return None  # completed meanwhile, or claimed again: not lapsed after all
        error = TIMED_OUT.format(worker=run.worker, expired=expired.isoformat())
        return run.complete(ExecutionStatus.TIMEOUT, {"error": error}, at=now)

    return Pick("lapsed", limit, now, time_out)


def claim(
    db: Database,
    store: EventStore,
    cache: AggregateCache,
    settings: Settings,
    worker: str,
    *,
    limit: int,
    lease: timedelta,
) -> list[Execution]:
    """Claim (blocking driver). Not retried after a lost connection: a claim whose commit
    went unanswered may have committed, and its executions then time out with their lease."""
    return run_pick(
        db, store, cache, settings, claiming(settings, worker, limit=limit, lease=lease)
    )


def sweep(
    db: Database,
    store: EventStore,
    cache: AggregateCache,
    settings: Settings,
    *,
    limit: int = MAX_BATCH,
) -> list[Execution]:
    """Sweep (blocking driver); safe to repeat, so retried after a transient failure."""
    pick = sweeping(settings, limit=limit)
    return db.retrying(lambda _number: run_pick(db, store, cache, settings, pick))


def run_pick(
    db: Database, store: EventStore, cache: AggregateCache, settings: Settings, pick: Pick
) -> list[Execution]:
    """Pick (and lock), decide, append, commit in one maintenance transaction: two round trips."""
    with db.maintenance_connection() as conn, conn.pipeline():
        select = pick.statement(settings)
        rows = conn.execute(select.query, select.params, prepare=True).fetchall()
        done, statements = pick.writes(store, settings, rows)
        for statement in statements:
            conn.execute(statement.query, statement.params, prepare=True)
        conn.commit()
        if done:
            db.announce_now(conn)
    for run in done:
        cache.put(run)
    return done


def _fold(store: EventStore, rows: Sequence[Any]) -> Iterator[Execution]:
    """The executions whose events `rows` are (ordered by stream, then version)."""
    stream: tuple[UUID, UUID] | None = None
    events: list[ExecutionEvent] = []
    for tenant_id, stream_id, version, topic, state in rows:
        if (tenant_id, stream_id) != stream:
            if events:
                yield execution_fold.fold(events)
            stream, events = (tenant_id, stream_id), []
        events.append(
            store.mapper.to_domain_event(StoredEvent(stream_id, version, topic, bytes(state)))
        )
    if events:
        yield execution_fold.fold(events)

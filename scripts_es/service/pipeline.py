"""The one command path: validate → replay → load → decide → write → commit → after commit.

`handle` runs a command's handler; `save` stores an aggregate a caller changed itself (the
repositories' create/update); both go through `run`, the one retry and in-doubt helper, and
`conflict_for`, the one place that turns a collision into the error a caller can act on.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from uuid import UUID

from scripts_es import commands
from scripts_es.domain import Execution, Script, VersionRetentionPolicy
from scripts_es.domain.values import HTTPMetadata
from scripts_es.errors import (
    ConcurrencyConflict,
    Conflict,
    InvalidInput,
    RouteConflict,
    ScriptsError,
)
from scripts_es.service import retention
from scripts_es.service.handlers import HANDLERS
from scripts_es.service.session import Session
from scripts_es.service.steps import Context, Decision, Result, Steps
from scripts_es.service.unit_of_work import UnitOfWork
from scripts_es.store.errors import ROUTES_KEY, DuplicateKey, StreamMoved

log = logging.getLogger("scripts_es")
Decide = Callable[[Context], Steps]


class _StaleCache(Exception):
    """A decision made on cached states met a conflict: decide again from the store."""

    def __init__(self, stream_ids: list[UUID]) -> None:
        super().__init__()
        self.stream_ids = stream_ids


def handle(session: Session, command: commands.Command) -> Result:
    """Apply a command; the same `command_id` twice is applied once, with the same result."""
    if not isinstance(command, commands.Command):
        raise InvalidInput("command", f"not a command: {type(command).__name__}")
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise InvalidInput("command", f"no handler for {type(command).__name__}")
    # A prune that failed midway is not repeated behind the caller's back: it reports the
    # failure, and running it again is always safe.
    retried = not isinstance(command, commands.PruneScriptHistory)
    try:
        return run(session, lambda ctx: handler(command, ctx), command, retried=retried)
    except _StaleCache as stale:
        for stream_id in stale.stream_ids:
            session.cache.evict(session.tenant_id, stream_id)
        return run(
            session, lambda ctx: handler(command, ctx), command, retried=retried, use_cache=False
        )


def save(session: Session, decide: Decide, *, retried: bool = True) -> Result:
    """Store what `decide` returns (a caller's own aggregate: its conflicts are the caller's)."""
    return run(session, decide, None, retried=retried, use_cache=False)


def run(
    session: Session,
    decide: Decide,
    command: commands.Command | None,
    *,
    retried: bool = True,
    use_cache: bool = True,
) -> Result:
    """Decide and write in one tenant transaction, retried after a transient failure
    (unless not `retried`).

    After a failure in doubt (the COMMIT's answer was lost) the next attempt first checks
    whether the previous one committed, and then answers its result instead of writing again.
    """
    recorded = command is not None and command.command_id is not None
    decided: list[Decision] = []

    def attempt(number: int) -> Result:
        if number and decided:
            with session.transaction() as conn:
                if UnitOfWork(session, conn).committed(decided[-1]):
                    return _after_commit(session, decided[-1])
        decided.clear()
        session.positions.discard()
        used_cache: list[UUID] = []
        try:
            with session.transaction() as conn:
                uow = UnitOfWork(session, conn)
                if recorded and (replay := uow.replay(command)) is not None:  # type: ignore[arg-type]
                    return replay
                try:
                    decision: Decision = uow.drive(decide(session.context(use_cache=use_cache)))
                finally:
                    used_cache = list(uow.cached)
                decided.append(decision)
                uow.write(decision)
                if recorded:
                    uow.record(command, decision.result)  # type: ignore[arg-type]
        except (DuplicateKey, StreamMoved) as error:
            if recorded:  # a concurrent handling of the same command may have won: its answer
                with session.transaction() as conn:
                    replay = UnitOfWork(session, conn).replay(command)  # type: ignore[arg-type]
                if replay is not None:
                    return replay
            if used_cache:
                raise _StaleCache(used_cache) from None
            raise conflict_for(error, decided[-1] if decided else None) from None
        except ConcurrencyConflict:
            if used_cache:
                raise _StaleCache(used_cache) from None
            raise
        return _after_commit(session, decision)

    return session.db.retrying(attempt) if retried else attempt(0)


def conflict_for(error: DuplicateKey | StreamMoved, decision: Decision | None) -> ScriptsError:
    """The caller's error for a write that collided with another one."""
    written = decision.saved[0] if decision and decision.saved else None
    if isinstance(error, DuplicateKey) and error.constraint == ROUTES_KEY:
        route = written.metadata if isinstance(written, Script) else None
        assert isinstance(route, HTTPMetadata)
        return RouteConflict(route.method, route.path)
    if written is None:
        return Conflict("the change collided with another one; reload and retry")
    first = written.pending_events[0].originator_version
    if first == 1:
        kind = "script" if isinstance(written, Script) else "execution"
        return InvalidInput("id", f"a {kind} with id {written.id} already exists")
    return ConcurrencyConflict(written.id, first - 1)


def _after_commit(session: Session, decision: Decision) -> Result:
    """The transaction committed: cache the new states, note the write's position, and prune
    the script automatically when its version crossed a multiple of the policy's period."""
    session.positions.commit()
    result = decision.result
    if isinstance(result, Script | Execution):
        session.cache.put(result)
    auto = session.settings.auto_prune
    for written in decision.saved:
        if auto is None or not isinstance(written, Script) or written.is_deleted:
            continue
        before = written.pending_events[0].originator_version - 1
        if auto.due(before, written.version):
            try:
                run(session, _auto_prune(written.id, auto.policy), None, retried=False)
            except ScriptsError as error:  # the write stands; the next due write prunes again
                log.warning("automatic prune of script %s failed: %s", written.id, error)
    return result


def _auto_prune(script_id: UUID, policy: VersionRetentionPolicy) -> Decide:
    def decide(ctx: Context) -> Steps:
        pruned: retention.Pruned = yield from retention.prune_script(script_id, policy, ctx)
        return pruned.decision

    return decide

"""The one command path: validate → replay → load → decide → write → commit → after commit.

`handle` runs a command's handler; `save` stores an aggregate a caller changed itself (the
repositories' create/update); both go through `run`, the one retry and in-doubt helper, and
`conflict_for`, the one place that turns a collision into the error a caller can act on.

Everything here is written once as outer steps (`steps.Outer`): it yields `Transaction`s
(`transaction.py`'s SQL steps) and `Pause`s, and a driver (blocking or asyncio) runs them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
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
    StorageUnavailable,
)
from scripts_es.service import retention, transaction
from scripts_es.service.handlers import HANDLERS
from scripts_es.service.session import Scope
from scripts_es.service.steps import (
    Context,
    Decision,
    Fetch,
    Outer,
    Pause,
    SqlSteps,
    Steps,
    Transaction,
)
from scripts_es.store.errors import ROUTES_KEY, DuplicateKey, StreamMoved

log = logging.getLogger("scripts_es")
Decide = Callable[[Context], Steps]


class _StaleCache(Exception):
    """A decision made on cached states met a conflict: decide again from the store."""

    def __init__(self, stream_ids: list[UUID]) -> None:
        super().__init__()
        self.stream_ids = stream_ids


MAX_REDECISIONS = 5  # a command that named no expected_version, decided again at most this often


def handle(scope: Scope, command: commands.Command) -> Outer:
    """Apply a command; the same `command_id` twice is applied once, with the same result.

    A command that names no `expected_version` asked for no optimistic concurrency: when a
    concurrent write moved its stream first, it is decided again on the new state (a few
    times at most) instead of answering ConcurrencyConflict for a write it never made.
    """
    if not isinstance(command, commands.Command):
        raise InvalidInput("command", f"not a command: {type(command).__name__}")
    handler = HANDLERS.get(type(command))
    if handler is None:
        raise InvalidInput("command", f"no handler for {type(command).__name__}")
    # A prune that failed midway is not repeated behind the caller's back: it reports the
    # failure, and running it again is always safe.
    retried = not isinstance(command, commands.PruneScriptHistory)
    redecided = retried and command.expected_version is None
    use_cache = True
    for round_ in range(MAX_REDECISIONS + 1):
        try:
            return (
                yield from run(
                    scope,
                    lambda ctx: handler(command, ctx),
                    command,
                    retried=retried,
                    use_cache=use_cache,
                    redecided=redecided and round_ < MAX_REDECISIONS,
                )
            )
        except _StaleCache as stale:
            for stream_id in stale.stream_ids:
                scope.cache.evict(scope.tenant_id, stream_id)
            use_cache = False
    raise AssertionError("unreachable: the last round raises its conflict")


def save(scope: Scope, decide: Decide, *, retried: bool = True) -> Outer:
    """Store what `decide` returns (a caller's own aggregate: its conflicts are the caller's)."""
    return run(scope, decide, None, retried=retried, use_cache=False)


def run(
    scope: Scope,
    decide: Decide,
    command: commands.Command | None,
    *,
    retried: bool = True,
    use_cache: bool = True,
    redecided: bool = False,
) -> Outer:
    """Decide and write in one tenant transaction, retried after a transient failure
    (unless not `retried`); with `redecided`, an update that lost a race to its stream is
    decided again (`_StaleCache`) rather than answered with ConcurrencyConflict.

    After a failure in doubt (the COMMIT's answer was lost) the next attempt first checks
    whether the previous one committed, and then answers its result instead of writing again.
    """
    recorded = command if command is not None and command.command_id is not None else None
    attempts: list[transaction.Attempt] = []

    def attempt(number: int) -> Outer:
        previous = attempts[-1].decision if number and attempts else None
        if previous is not None and (yield Transaction(_committed(scope, previous))):
            return (yield from _after_commit(scope, attempts[-1]))
        tried = transaction.Attempt()
        attempts[:] = [tried]
        try:
            replayed = yield Transaction(
                lambda: transaction.decide_and_write(
                    scope, decide(scope.context(use_cache=use_cache)), recorded, tried
                )
            )
        except (DuplicateKey, StreamMoved) as error:
            if recorded is not None:  # a concurrent handling of the same command may have won
                replay = yield Transaction(lambda: transaction.replay(scope, recorded))
                if replay is not None:
                    return replay
            if tried.cached or (redecided and _lost_an_update(error, tried.decision)):
                raise _StaleCache(list(tried.cached)) from None
            raise conflict_for(error, tried.decision) from None
        except ConcurrencyConflict:
            if tried.cached:
                raise _StaleCache(list(tried.cached)) from None
            raise
        if replayed is not None:
            return replayed
        return (yield from _after_commit(scope, tried))

    if not retried:
        return (yield from attempt(0))
    return (yield from retrying(scope, attempt))


def _lost_an_update(error: DuplicateKey | StreamMoved, decision: Decision | None) -> bool:
    """The write collided because another one moved an existing stream first."""
    written = decision.saved[0] if decision and decision.saved else None
    return (
        isinstance(error, StreamMoved)
        and written is not None
        and written.pending_events[0].originator_version > 1
    )


def _committed(scope: Scope, decision: Decision) -> Callable[[], SqlSteps]:
    return lambda: transaction.committed(scope, decision)


def retrying(scope: Scope, attempt: Callable[[int], Outer]) -> Outer:
    """Run `attempt(number)` again after a transient failure; it must be safe to repeat."""
    retries = scope.settings.retries
    for number in range(retries + 1):
        try:
            return (yield from attempt(number))
        except StorageUnavailable:
            if number == retries:
                raise
            yield Pause(0.05 * 2**number, outage=True)
    raise AssertionError("unreachable")


def read(scope: Scope, steps: Callable[[], Steps]) -> Outer:
    """Run read steps in one tenant transaction, retried after a transient failure."""

    def once(_number: int) -> Outer:
        return (
            yield Transaction(lambda: transaction.answered(scope, steps(), transaction.Attempt()))
        )

    return retrying(scope, once)


def fetch(scope: Scope, query: str, params: Any) -> Outer:
    """One read statement in one round trip, retried after a transient failure."""

    def once(_number: int) -> Outer:
        return (yield Fetch(query, params, prepare=True))

    return retrying(scope, once)


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


def _after_commit(scope: Scope, attempt: transaction.Attempt) -> Outer:
    """The transaction committed: cache the new states, note the write's position, and prune
    the script automatically when its version crossed a multiple of the policy's period."""
    decision = attempt.decision
    assert decision is not None
    if attempt.position is not None:
        scope.positions.note(attempt.position)
    result = decision.result
    if isinstance(result, Script | Execution):
        scope.cache.put(result)
    auto = scope.settings.auto_prune
    for written in decision.saved:
        if auto is None or not isinstance(written, Script) or written.is_deleted:
            continue
        before = written.pending_events[0].originator_version - 1
        if auto.due(before, written.version):
            try:
                yield from run(scope, _auto_prune(written.id, auto.policy), None, retried=False)
            except ScriptsError as error:  # the write stands; the next due write prunes again
                log.warning("automatic prune of script %s failed: %s", written.id, error)
    return result


def _auto_prune(script_id: UUID, policy: VersionRetentionPolicy) -> Decide:
    def decide(ctx: Context) -> Steps:
        pruned: retention.Pruned = yield from retention.prune_script(script_id, policy, ctx)
        return pruned.decision

    return decide

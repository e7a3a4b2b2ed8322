"""One transaction of the command path as SQL steps: what every driver runs, decided once.

A decision's `Load` and `Hold` become `Fetch` and `Statement` here (answered from the command
cache where allowed), its writes become the statements of `writes.py`, and the command log's
replay, record and in-doubt check are statements too. A driver answers only `Fetch` (rows)
and `Statement` (nothing) inside a transaction it opened.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import orjson

from scripts_es import commands
from scripts_es.domain import Execution, PruneResult, Script
from scripts_es.domain import execution as execution_fold
from scripts_es.domain import script as script_fold
from scripts_es.errors import Conflict
from scripts_es.service import writes
from scripts_es.service.session import Position, Scope
from scripts_es.service.steps import (
    Aggregate,
    Decision,
    Fetch,
    Hold,
    Load,
    Loaded,
    Request,
    Result,
    SqlSteps,
    Statement,
    Steps,
)
from scripts_es.store.database import QUERIES
from scripts_es.store.event_store import Fold

FOLDS: dict[str, Fold] = {"script": script_fold.fold, "execution": execution_fold.fold}
RESULT_KINDS: dict[str, type[Script] | type[Execution] | type[PruneResult]] = {
    "script": Script,
    "execution": Execution,
    "prune": PruneResult,
}


@dataclass
class Attempt:
    """What one attempt learnt: the states it took from the cache, its decision, and the
    position of its write (inline projection off), kept for the pipeline after the attempt."""

    cached: dict[UUID, Aggregate] = field(default_factory=dict)
    held: set[UUID] = field(default_factory=set)  # streams this transaction holds
    decision: Decision | None = None
    position: Position | None = None


def answered(
    scope: Scope, steps: Generator[Request | Statement, Any, Any], attempt: Attempt
) -> SqlSteps:
    """Run a decision's steps, turning its `Load` and `Hold` requests into SQL steps (SQL
    steps pass through)."""
    answer: object = None
    while True:
        try:
            request = steps.send(answer)
        except StopIteration as done:
            return done.value
        if isinstance(request, Load):
            answer = yield from load(scope, request, attempt)
        elif isinstance(request, Hold):
            query = "share_streams" if request.shared else "hold_streams"
            answer = yield Statement(QUERIES[query], {"ids": [request.stream_id]})
            attempt.held.add(request.stream_id)
        else:
            answer = yield request


def load(scope: Scope, request: Load, attempt: Attempt) -> SqlSteps:
    """A stream's state: from the command cache if the request allows it, else folded."""
    if request.cached and request.upto is None:
        state = scope.cache.get(scope.tenant_id, request.stream_id)
        if state is not None:
            attempt.cached[request.stream_id] = state
            return Loaded(state, None)
    if request.upto is None:  # loaded now: nothing to check before commit
        attempt.cached.pop(request.stream_id, None)
    params = scope.store.load_params(scope.tenant_id, request.stream_id, request.upto)
    rows = yield Fetch(QUERIES["load_stream"], params, prepare=True)
    loaded = scope.store.fold_rows(request.stream_id, rows, FOLDS[request.kind])
    if request.upto is None and loaded.state is not None:
        scope.cache.put(loaded.state)  # the freshest state known: later commands use it
        if request.cached:
            attempt.cached[request.stream_id] = loaded.state
    return Loaded(loaded.state, loaded.horizon)


def write(scope: Scope, decision: Decision, attempt: Attempt) -> SqlSteps:
    """Everything the decision writes, in this transaction."""
    inline = scope.settings.inline_projections
    written = {aggregate.id for aggregate in decision.saved}
    for aggregate in decision.saved:
        statements = writes.append(scope.store, scope.tenant_id, aggregate, project=inline)
        yield from statements[:-1]  # a driver answers a Statement with None
        last = statements[-1]
        if inline:
            yield last
        else:
            ((txid, notification_id, *_),) = yield Fetch(last.query, last.params, prepare=True)
            attempt.position = (txid, notification_id)
    for stream_id, state in attempt.cached.items():
        if stream_id not in written:
            # A decision on a cached state it does not write (a no-op, the script an
            # execution starts from) stands only if the stream has not moved since: checked
            # here, before anything is recorded under the command_id; under the hold it
            # already has, or else under the stream's lock.
            held = stream_id in attempt.held
            yield writes.head_check(scope.tenant_id, stream_id, state.version, held=held)
    for state in decision.snapshots:
        yield writes.snapshot(scope.store, scope.tenant_id, state)
    yield from decision.statements


def replay(scope: Scope, command: commands.Command) -> SqlSteps:
    """The stored result of an earlier handling of this command_id, if any."""
    params = {"tenant_id": scope.tenant_id, "command_id": command.command_id}
    rows = yield Fetch(QUERIES["find_command"], params)
    if not rows:
        return None
    kind, data = rows[0]
    name, _, result_kind = kind.partition(":")
    if name != type(command).__name__:
        raise Conflict(
            f"command_id {command.command_id} was already used for a {name}, "
            f"not a {type(command).__name__}; use a fresh command_id"
        )
    return RESULT_KINDS[result_kind].model_validate(orjson.loads(data))


def record(scope: Scope, command: commands.Command, result: Result) -> Statement:
    """Keep the result under the command's id, in this transaction."""
    assert isinstance(result, Script | Execution | PruneResult)
    kind = {Script: "script", Execution: "execution", PruneResult: "prune"}[type(result)]
    return Statement(
        QUERIES["record_command"],
        {
            "tenant_id": scope.tenant_id,
            "command_id": command.command_id,
            "kind": f"{type(command).__name__}:{kind}",
            "result": orjson.dumps(result.model_dump(mode="json")),
        },
    )


def decide_and_write(
    scope: Scope, decide: Steps, recorded: commands.Command | None, attempt: Attempt
) -> SqlSteps:
    """Replay (a `recorded` command's stored result, if any: answered), else decide, write
    and record: one transaction's steps. Answers the replayed result, or None."""
    if recorded is not None and (replayed := (yield from replay(scope, recorded))) is not None:
        return replayed
    decision: Decision = yield from answered(scope, decide, attempt)
    attempt.decision = decision
    yield from write(scope, decision, attempt)
    if recorded is not None:
        yield record(scope, recorded, decision.result)
    return None


def committed(scope: Scope, decision: Decision) -> SqlSteps:
    """After an in-doubt commit: are the decision's events in the store (it committed)?"""
    if not decision.saved:
        return False
    first = decision.saved[0].pending_events[0]
    params = scope.store.committed_params(scope.tenant_id, first)
    rows = yield Fetch(QUERIES["event_exists"], params)
    return bool(rows and rows[0][0])

"""The command handlers as decisions: driven by a fake unit of work, no database.

A handler (`HANDLERS[type(command)]`) is a generator: it yields `Hold`, `Load` and `Fetch`
requests and returns a `Decision`. `FakeUnitOfWork` answers each request from states and rows
the test chose and records what was asked, so a test reads as "given this stream, the
command decides that".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from scripts_es import commands
from scripts_es.domain import Execution, ExecutionStatus, PruneResult, Script
from scripts_es.domain.events import (
    ExecutionCompleted,
    ExecutionQueued,
    ExecutionStarted,
    ScriptContentUpdated,
    ScriptCreated,
)
from scripts_es.errors import (
    ConcurrencyConflict,
    InvalidInput,
    InvalidTransition,
    NotFound,
    VersionPruned,
)
from scripts_es.service import reads, retention
from scripts_es.service.handlers import HANDLERS
from scripts_es.service.steps import Context, Decision, Fetch, Hold, Load, Loaded, Statement
from tests.support.clock import EPOCH, Clock

TENANT, USER, EDITOR = uuid4(), uuid4(), uuid4()
QUERY_NAMES = {text: name for name, text in retention.QUERIES.items()}


@dataclass
class FakeUnitOfWork:
    """Answers `Load` from `states` (by stream and `upto`), `Hold` with None and `Fetch` from
    `rows` (by query name); `asked` is every request, in order."""

    states: dict[tuple[UUID, int | None], Loaded] = field(default_factory=dict)
    rows: dict[str, list[tuple[Any, ...]]] = field(default_factory=dict)
    asked: list[Hold | Load | Fetch] = field(default_factory=list)

    def stream(self, *states: Script | Execution, horizon: int = 1) -> FakeUnitOfWork:
        """Store one stream: its current state is the last of `states`; each is `upto` too."""
        for state in states:
            self.states[(state.id, state.version)] = Loaded(state, horizon)
        self.states[(states[-1].id, None)] = Loaded(states[-1], horizon)
        return self

    def drive(self, steps: Any) -> Any:
        answer: Any = None
        try:
            while True:
                request = steps.send(answer)
                self.asked.append(request)
                answer = self.answer(request)
        except StopIteration as done:
            return done.value

    def answer(self, request: Hold | Load | Fetch) -> Any:
        if isinstance(request, Hold):
            return None
        if isinstance(request, Load):
            return self.states.get((request.stream_id, request.upto), Loaded(None, None))
        return self.rows[QUERY_NAMES[request.query]]

    def handle(self, command: commands.Command, ctx: Context) -> Decision:
        decision = self.drive(HANDLERS[type(command)](command, ctx))
        assert isinstance(decision, Decision)
        return decision

    def fetched(self, name: str) -> dict[str, Any]:
        """The parameters of the one `Fetch` of query `name`."""
        asked = [r for r in self.asked if isinstance(r, Fetch)]
        (params,) = [r.params for r in asked if QUERY_NAMES.get(r.query) == name]
        return params


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ctx(clock: Clock) -> Context:
    """The command path's context: the cache answers no load (the session's default)."""
    return Context(TENANT, USER, clock, use_cache=False)


def versions(count: int, **fields: Any) -> list[Script]:
    """A script's states at versions 1..count (content changes a minute apart), stored."""
    script = Script.create(
        tenant_id=TENANT,
        created_by=USER,
        **{"name": "job", "content": "c1", "type": "one_off", "metadata": {}, **fields},
        at=EPOCH,
    ).without_pending()
    states = [script]
    for version in range(2, count + 1):
        at = EPOCH + timedelta(minutes=version)
        states.append(states[-1].update_content(f"c{version}", USER, at=at).without_pending())
    return states


def running(script: Script) -> Execution:
    return Execution.start(script=script, trigger={"type": "api"}, at=EPOCH).without_pending()


def only_event(decision: Decision) -> Any:
    (aggregate,) = decision.saved
    (event,) = aggregate.pending_events
    return event


# -- creating and changing scripts -------------------------------------------------------------


def test_create_decides_one_new_script_without_reading_anything(ctx: Context) -> None:
    fake = FakeUnitOfWork()
    command = commands.CreateScript(name="job", content="x", type="one_off", script_id=uuid4())
    decision = fake.handle(command, ctx)
    assert fake.asked == []
    event = only_event(decision)
    assert type(event) is ScriptCreated
    assert (event.originator_id, event.originator_version, event.timestamp) == (
        command.script_id,
        1,
        EPOCH,
    )
    assert decision.result == decision.saved[0].without_pending()
    assert (decision.result.tenant_id, decision.result.created_by) == (TENANT, USER)
    assert (decision.snapshots, decision.statements) == ((), ())


def test_create_with_an_expected_version_is_refused(ctx: Context) -> None:
    command = commands.CreateScript(name="job", content="x", type="one_off", expected_version=1)
    with pytest.raises(InvalidInput) as raised:
        FakeUnitOfWork().handle(command, ctx)
    assert raised.value.field == "expected_version"


def test_an_update_saves_the_script_with_one_event_at_the_next_version(
    ctx: Context, clock: Clock
) -> None:
    (script,) = versions(1)
    fake = FakeUnitOfWork().stream(script)
    at = clock.advance(timedelta(hours=1))
    command = commands.UpdateScriptContent(script_id=script.id, content="new")
    decision = fake.handle(command, ctx)
    assert fake.asked == [Load("script", script.id, cached=False)]
    event = only_event(decision)
    assert type(event) is ScriptContentUpdated
    assert (event.originator_version, event.timestamp, event.user_id) == (2, at, USER)
    assert (decision.result.version, decision.result.content) == (2, "new")
    assert decision.result.pending_events == ()


@pytest.mark.parametrize(
    "make",
    [
        lambda s: commands.UpdateScriptContent(script_id=s.id, content=s.content),
        lambda s: commands.ChangeScriptDetails(script_id=s.id, name=s.name),
        lambda s: commands.ChangeScriptMetadata(script_id=s.id, metadata={}),
        lambda s: commands.EnableScript(script_id=s.id),
    ],
    ids=["same content", "same name", "same metadata", "enable an enabled script"],
)
def test_a_change_that_changes_nothing_saves_nothing(ctx: Context, make: Any) -> None:
    script = versions(3)[-1]
    decision = FakeUnitOfWork().stream(script).handle(make(script), ctx)
    assert decision == Decision(script)


def test_the_cache_may_answer_the_load_of_a_change_when_the_context_allows(clock: Clock) -> None:
    (script,) = versions(1)
    fake = FakeUnitOfWork().stream(script)
    fake.handle(
        commands.DisableScript(script_id=script.id), Context(TENANT, USER, clock, use_cache=True)
    )
    assert fake.asked == [Load("script", script.id, cached=True)]


def test_an_expected_version_that_is_not_the_current_one_is_a_concurrency_conflict(
    ctx: Context,
) -> None:
    script = versions(3)[-1]
    command = commands.UpdateScriptContent(script_id=script.id, content="x", expected_version=2)
    with pytest.raises(ConcurrencyConflict):
        FakeUnitOfWork().stream(script).handle(command, ctx)
    matching = command.model_copy(update={"expected_version": 3})
    assert FakeUnitOfWork().stream(script).handle(matching, ctx).result.version == 4


def test_a_change_of_a_missing_or_deleted_script_is_not_found(ctx: Context) -> None:
    (script,) = versions(1)
    deleted = script.delete(EDITOR, at=EPOCH).without_pending()
    command = commands.UpdateScriptContent(script_id=script.id, content="x")
    with pytest.raises(NotFound):
        FakeUnitOfWork().handle(command, ctx)
    with pytest.raises(NotFound):
        FakeUnitOfWork().stream(deleted).handle(command, ctx)


# -- executions ----------------------------------------------------------------------------------


def test_a_start_holds_the_script_shared_then_reads_it_fresh(ctx: Context) -> None:
    (script,) = versions(1)
    fake = FakeUnitOfWork().stream(script)
    decision = fake.handle(
        commands.StartExecution(script_id=script.id, trigger={"type": "api"}), ctx
    )
    assert fake.asked == [Hold(script.id, shared=True), Load("script", script.id, cached=False)]
    assert type(only_event(decision)) is ExecutionStarted
    assert (decision.result.script_id, decision.result.script_version) == (script.id, 1)
    assert decision.result.status is ExecutionStatus.RUNNING


def test_an_enqueue_decides_a_pending_execution(ctx: Context) -> None:
    (script,) = versions(1)
    command = commands.EnqueueExecution(script_id=script.id, trigger={"type": "cron"})
    decision = FakeUnitOfWork().stream(script).handle(command, ctx)
    assert type(only_event(decision)) is ExecutionQueued
    assert decision.result.status is ExecutionStatus.PENDING


@pytest.mark.parametrize("opener", [commands.StartExecution, commands.EnqueueExecution])
def test_a_disabled_script_cannot_start_and_nothing_is_decided(
    ctx: Context, opener: type[commands.StartExecution]
) -> None:
    (script,) = versions(1)
    disabled = script.disable(EDITOR, at=EPOCH).without_pending()
    with pytest.raises(InvalidTransition):
        FakeUnitOfWork().stream(disabled).handle(
            opener(script_id=script.id, trigger={"type": "api"}), ctx
        )


def test_a_start_may_expect_the_script_version_it_means_to_run(ctx: Context) -> None:
    script = versions(2)[-1]
    command = commands.StartExecution(
        script_id=script.id, trigger={"type": "api"}, expected_version=1
    )
    with pytest.raises(ConcurrencyConflict):
        FakeUnitOfWork().stream(script).handle(command, ctx)


def test_completing_a_running_execution_saves_one_event(ctx: Context, clock: Clock) -> None:
    run = running(versions(1)[0])
    at = clock.advance(timedelta(seconds=90))
    fake = FakeUnitOfWork().stream(run)
    command = commands.CompleteExecution(execution_id=run.id, status="failed")
    decision = fake.handle(command, ctx)
    assert fake.asked == [Load("execution", run.id, cached=False)]
    assert type(only_event(decision)) is ExecutionCompleted
    assert (decision.result.status, decision.result.duration) == (
        ExecutionStatus.FAILED,
        timedelta(seconds=90),
    )
    assert decision.result.completed_at == at


def test_a_terminal_execution_refuses_to_begin_or_complete_again(ctx: Context) -> None:
    run = running(versions(1)[0])
    done = run.complete("completed", at=EPOCH).without_pending()
    with pytest.raises(InvalidTransition):
        FakeUnitOfWork().stream(done).handle(commands.BeginExecution(execution_id=run.id), ctx)
    with pytest.raises(InvalidTransition):
        FakeUnitOfWork().stream(done).handle(
            commands.CompleteExecution(execution_id=run.id, status="timeout"), ctx
        )


def test_an_execution_that_does_not_exist_is_not_found(ctx: Context) -> None:
    with pytest.raises(NotFound):
        FakeUnitOfWork().handle(commands.BeginExecution(execution_id=uuid4()), ctx)


# -- pruning ---------------------------------------------------------------------------------------


def pruning(states: list[Script], doomed: tuple[int, int]) -> FakeUnitOfWork:
    """A stream of `states`, whose `stored_versions` rows are (version, occurred_at) and whose
    `doomed_size` row is `doomed` (events below the horizon, their bytes)."""
    stored = [(state.version, state.updated_at) for state in states]
    rows = {"stored_versions": stored, "doomed_size": [doomed]}
    return FakeUnitOfWork(rows=rows).stream(*states)


def test_a_prune_to_two_versions_of_five_snapshots_at_four_and_truncates_below_it(
    ctx: Context,
) -> None:
    states = versions(5)
    script = states[-1]
    fake = pruning(states, (3, 1234))
    command = commands.PruneScriptHistory(script_id=script.id, max_versions=2)
    decision = fake.handle(command, ctx)

    key = {"tenant_id": TENANT, "stream_id": script.id}
    assert fake.asked[:2] == [Hold(script.id, shared=False), Load("script", script.id)]
    assert fake.fetched("stored_versions") == key
    assert fake.fetched("doomed_size") == {**key, "horizon": 4}
    assert fake.asked[-1] == Load("script", script.id, upto=4)
    assert decision.result == PruneResult(script_id=script.id, horizon=4, removed=3)
    assert decision.saved == ()
    assert decision.snapshots == (states[3],)
    truncation = [Statement(retention.QUERIES[name], {**key, "horizon": 4}) for name in (
        "delete_events_below", "delete_snapshots_below", "delete_versions_below"
    )]  # fmt: skip
    assert list(decision.statements[:3]) == truncation
    (audit,) = decision.statements[3:]
    assert audit.query == retention.QUERIES["audit"]
    assert {k: audit.params[k] for k in ("horizon", "removed", "now", "user_id")} == {
        "horizon": 4,
        "removed": 3,
        "now": EPOCH,
        "user_id": USER,
    }
    assert audit.params["policy"].obj == {"max_versions": 2, "retention_days": None}


def test_a_prune_that_removes_nothing_only_records_the_audit(ctx: Context) -> None:
    states = versions(5)
    fake = pruning(states, (0, 0))
    command = commands.PruneScriptHistory(script_id=states[0].id, max_versions=10)
    decision = fake.handle(command, ctx)
    assert decision.result == PruneResult(script_id=states[0].id, horizon=1, removed=0)
    assert decision.snapshots == ()
    assert [s.query for s in decision.statements] == [retention.QUERIES["audit"]]
    assert not any(isinstance(r, Load) and r.upto is not None for r in fake.asked)


def test_a_prune_by_age_keeps_the_versions_younger_than_the_retention(
    ctx: Context, clock: Clock
) -> None:
    states = versions(5)  # version v was written v minutes after EPOCH
    clock.advance(timedelta(days=1, minutes=3))  # versions 3.. are at most a day old
    fake = pruning(states, (2, 99))
    command = commands.PruneScriptHistory(script_id=states[0].id, retention_days=1)
    decision = fake.handle(command, ctx)
    assert decision.result == PruneResult(script_id=states[0].id, horizon=3, removed=2)
    assert decision.snapshots == (states[2],)


def test_a_prune_expecting_another_version_is_a_concurrency_conflict(ctx: Context) -> None:
    states = versions(5)
    command = commands.PruneScriptHistory(
        script_id=states[0].id, max_versions=2, expected_version=4
    )
    fake = FakeUnitOfWork().stream(*states)
    with pytest.raises(ConcurrencyConflict):
        fake.handle(command, ctx)
    assert not any(isinstance(r, Fetch) for r in fake.asked), "refused before any read"


def test_a_prune_without_a_limit_is_refused_before_it_holds_anything(ctx: Context) -> None:
    fake = FakeUnitOfWork()
    with pytest.raises(InvalidInput):
        fake.handle(commands.PruneScriptHistory(script_id=uuid4()), ctx)
    assert fake.asked == []


# -- reads as steps ----------------------------------------------------------------------------


def test_time_travel_below_the_horizon_is_version_pruned_never_an_older_state() -> None:
    states = versions(5)
    fake = FakeUnitOfWork().stream(*states[3:], horizon=4)
    with pytest.raises(VersionPruned) as raised:
        fake.drive(reads.version(states[0].id, 2))
    assert raised.value.horizon == 4
    assert fake.drive(reads.version(states[0].id, 4)) == states[3]


def test_every_command_has_a_handler() -> None:
    every = {cls for cls in vars(commands).values() if isinstance(cls, type)}
    assert {cls for cls in every if issubclass(cls, commands.Command)} - {commands.Command} == set(
        HANDLERS
    )

"""The execution lifecycle of DESIGN §3, with every (status, action) pair spelled out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts_es.domain import Execution, ExecutionResult, ExecutionStatus, ExecutionTrigger
from scripts_es.domain.events import ExecutionCompleted, ExecutionQueued, ExecutionStarted
from scripts_es.domain.execution import apply
from scripts_es.errors import InvalidTransition, NotFound
from tests.unit.helpers import call, new_script

P, R = ExecutionStatus.PENDING, ExecutionStatus.RUNNING
TERMINAL = [ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT]
T0 = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
API = ExecutionTrigger(type="api")
offsets = st.timedeltas(min_value=timedelta(days=-2), max_value=timedelta(days=2))


def in_status(status: ExecutionStatus) -> Execution:
    script = new_script()
    if status is P:
        return Execution.enqueue(script=script, trigger=API, at=T0)
    running = Execution.start(script=script, trigger=API, at=T0)
    return running if status is R else running.complete(status, at=T0 + timedelta(minutes=1))


@pytest.mark.parametrize("status", list(ExecutionStatus))
def test_only_a_pending_execution_can_begin(status: ExecutionStatus) -> None:
    execution = in_status(status)
    if status is P:
        begun = call(execution, lambda: execution.begin(at=T0 + timedelta(seconds=3)))
        assert (begun.status, begun.started_at, begun.version) == (R, T0 + timedelta(seconds=3), 2)
    else:
        with pytest.raises(InvalidTransition):
            call(execution, execution.begin)


@pytest.mark.parametrize("target", list(ExecutionStatus))
@pytest.mark.parametrize("status", list(ExecutionStatus))
def test_only_pending_or_running_executions_complete_and_only_to_a_terminal_status(
    status: ExecutionStatus, target: ExecutionStatus
) -> None:
    execution = in_status(status)
    if status in (P, R) and target in TERMINAL:
        done = call(execution, lambda: execution.complete(target.value, {"output": "ok"}))
        assert (done.status, done.version) == (target, execution.version + 1)
        assert done.result == ExecutionResult(output="ok")
    else:
        with pytest.raises(InvalidTransition):
            call(execution, lambda: execution.complete(target))


@given(started=offsets, finished=offsets)
def test_the_duration_is_completed_at_minus_started_at_and_never_negative(
    started: timedelta, finished: timedelta
) -> None:
    running = Execution.start(script=new_script(), trigger=API, at=T0 + started)
    done = running.complete("completed", at=T0 + finished)
    assert done.completed_at == T0 + finished
    assert done.duration == max(finished - started, timedelta(0))
    assert done.pending_events[-1].duration == done.duration


@given(queued=offsets, begun=offsets, finished=offsets)
def test_the_duration_of_a_queued_execution_counts_from_when_it_began(
    queued: timedelta, begun: timedelta, finished: timedelta
) -> None:
    pending = Execution.enqueue(script=new_script(), trigger=API, at=T0 + queued)
    assert pending.started_at is None
    assert pending.complete("timeout", at=T0 + finished).duration == timedelta(0)
    running = pending.begin(at=T0 + begun)
    done = running.complete("failed", at=T0 + finished)
    assert done.duration == max(finished - begun, timedelta(0))


@pytest.mark.parametrize("opener", [Execution.start, Execution.enqueue])
def test_a_disabled_script_can_neither_start_nor_enqueue(opener: object) -> None:
    script = new_script().disable(uuid4())
    with pytest.raises(InvalidTransition):
        call(script, lambda: opener(script=script, trigger=API))  # type: ignore[operator]
    enabled_again = script.enable(uuid4())
    assert opener(script=enabled_again, trigger=API).script_version == 3  # type: ignore[operator]


@pytest.mark.parametrize("opener", [Execution.start, Execution.enqueue])
def test_a_deleted_script_can_neither_start_nor_enqueue(opener: object) -> None:
    script = new_script().delete(uuid4())
    with pytest.raises(NotFound):
        call(script, lambda: opener(script=script, trigger=API))  # type: ignore[operator]


def test_beginning_keeps_the_trigger_input_and_script_version_it_was_queued_with() -> None:
    user = uuid4()
    script = new_script().update_content("v2", user)
    trigger = ExecutionTrigger(type="manual", triggered_by=user)
    pending = Execution.enqueue(script=script, trigger=trigger, input={"n": [1, 2]}, at=T0)
    begun = pending.begin(at=T0 + timedelta(seconds=1))
    assert (begun.trigger, begun.input, begun.script_version) == (trigger, {"n": [1, 2]}, 2)
    assert [e.user_id for e in begun.pending_events] == [user, user]


@pytest.mark.parametrize("kind", [ExecutionQueued, ExecutionStarted, ExecutionCompleted])
@pytest.mark.parametrize("status", list(ExecutionStatus))
def test_the_fold_itself_refuses_events_that_do_not_follow_the_lifecycle(
    status: ExecutionStatus, kind: type
) -> None:
    state = in_status(status).without_pending()
    opened = state.model_dump(include={"script_id", "script_version", "trigger", "input"})
    payload = opened if kind is not ExecutionCompleted else {"status": "failed", "duration": 0}
    event = kind(
        originator_id=state.id,
        originator_version=state.version + 1,
        tenant_id=state.tenant_id,
        user_id=None,
        timestamp=T0,
        **payload,
        **({"result": ExecutionResult()} if kind is ExecutionCompleted else {}),
    )
    allowed = {(P, ExecutionStarted), (P, ExecutionCompleted), (R, ExecutionCompleted)}
    if (status, kind) in allowed:
        assert apply(state, event).version == state.version + 1
    else:
        with pytest.raises(InvalidTransition):
            apply(state, event)

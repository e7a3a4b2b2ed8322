"""Random sequences of Script and Execution behaviours keep every DESIGN §3 invariant."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from scripts_es.domain import (
    Execution,
    ExecutionResult,
    ExecutionStatus,
    HTTPMetadata,
    Script,
    ScriptType,
)
from scripts_es.domain.events import (
    ExecutionCompleted,
    ExecutionQueued,
    ExecutionStarted,
    ScriptContentUpdated,
    ScriptCreated,
    ScriptDeleted,
    ScriptDetailsChanged,
    ScriptDisabled,
    ScriptEnabled,
    ScriptMetadataChanged,
)
from scripts_es.domain.execution import apply as apply_execution
from scripts_es.domain.execution import fold as fold_execution
from scripts_es.domain.script import fold as fold_script
from scripts_es.domain.values import METADATA_FOR_TYPE
from scripts_es.errors import InvalidInput, InvalidTransition, NotFound
from tests.unit import strategies as s

T = TypeVar("T")
P, R = ExecutionStatus.PENDING, ExecutionStatus.RUNNING
# DESIGN §3, written out: pending → running; pending | running → completed | failed | timeout.
ALLOWED = {(P, R)} | {(frm, to) for frm in (P, R) for to in s.TERMINAL}
DRIFT = st.timedeltas(min_value=timedelta(hours=-1), max_value=timedelta(hours=3))


@dataclass
class Tracked:
    """The latest instance of an aggregate plus the events it already handed to a store."""

    instance: Any
    stored: list[Any] = field(default_factory=list)

    @property
    def events(self) -> list[Any]:
        return [*self.stored, *self.instance.pending_events]


def call(receiver: Any, behaviour: Callable[[], T]) -> T:
    """Run a behaviour; whatever it returns or raises, its receiver must not have changed."""
    twin, dump = receiver.model_copy(deep=True), receiver.model_dump(mode="json")
    try:
        return behaviour()
    finally:
        assert receiver == twin
        assert receiver.model_dump(mode="json") == dump


def new_event(old: Any, new: Any, kind: type, user: Any = None, at: Any = None) -> Any:
    """Check `new` is `old` plus exactly one event of `kind` at the next version; return it."""
    assert new.pending_events[: len(old.pending_events)] == old.pending_events
    (event,) = new.pending_events[len(old.pending_events) :]
    assert type(event) is kind
    assert (event.originator_id, event.tenant_id) == (old.id, old.tenant_id)
    assert event.originator_version == new.version == old.version + 1
    if at is not None:
        assert event.timestamp == at
    if user is not None:
        assert event.user_id == user == new.updated_by
        assert new.updated_at == at
    return event


class DomainMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.executions: list[Tracked] = []

    @initialize(script=s.scripts())
    def create_a_script(self, script: Script) -> None:
        assert (script.version, script.is_enabled, script.is_deleted) == (1, True, False)
        assert [type(e) for e in script.pending_events] == [ScriptCreated]
        self.script = Tracked(script)
        self.created = script

    # -- script behaviours ------------------------------------------------------------------

    def behave(self, run: Callable[[Script], Script], noop: bool, kind: type, user: Any, at: Any):
        old = self.script.instance
        if old.is_deleted:
            with pytest.raises(NotFound):
                call(old, lambda: run(old))
            return None
        new = call(old, lambda: run(old))
        if noop:
            assert new == old and new.pending_events == old.pending_events
            return None
        self.script.instance = new
        return new_event(old, new, kind, user, at)

    @rule(same=st.booleans(), content=s.contents, user=s.uuids, at=s.moments)
    def update_content(self, same: bool, content: str, user: Any, at: Any) -> None:
        old = self.script.instance
        content = old.content if same else content
        event = self.behave(
            lambda sc: sc.update_content(content, user, at=at),
            content == old.content,
            ScriptContentUpdated,
            user,
            at,
        )
        if event is not None:
            assert (event.old_version, event.new_version) == (old.version, old.version + 1)
            assert self.script.instance.content == content

    @rule(same=st.booleans(), data=st.data(), user=s.uuids, at=s.moments)
    def change_metadata(self, same: bool, data: st.DataObject, user: Any, at: Any) -> None:
        old = self.script.instance
        if same and isinstance(old.metadata, HTTPMetadata):
            metadata: Any = {"path": old.metadata.path, "method": old.metadata.method.lower()}
        else:
            metadata = old.metadata if same else data.draw(s.metadata_for(old.type))
        model = METADATA_FOR_TYPE[old.type]
        expected = metadata if isinstance(metadata, model) else model(**metadata)
        change = self.behave(
            lambda sc: sc.change_metadata(metadata, user, at=at),
            expected == old.metadata,
            ScriptMetadataChanged,
            user,
            at,
        )
        assert self.script.instance.metadata == (old.metadata if change is None else expected)

    @rule(other=s.script_types, data=st.data(), user=s.uuids)
    def change_metadata_to_another_type(self, other: ScriptType, data: Any, user: Any) -> None:
        old = self.script.instance
        if other is old.type or old.is_deleted:
            return
        metadata = data.draw(s.metadata_models[other])
        with pytest.raises(InvalidInput) as raised:
            call(old, lambda: old.change_metadata(metadata, user))
        assert raised.value.field == "metadata"

    @rule(
        name=st.none() | st.just("same") | s.names,
        description=st.none() | st.just("same") | s.descriptions,
        tags=st.none() | st.just("same") | s.tag_lists,
        user=s.uuids,
        at=s.moments,
    )
    def change_details(self, name: Any, description: Any, tags: Any, user: Any, at: Any) -> None:
        old = self.script.instance
        name = f"  {old.name} " if name == "same" else name
        description = old.description if description == "same" else description
        tags = [t.upper() for t in old.tags] if tags == "same" else tags
        expected = (
            old.name if name is None else name.strip(),
            old.description if description is None else description,
            old.tags if tags is None else s.normalise_tags(tags),
        )
        noop = expected == (old.name, old.description, old.tags)
        self.behave(
            lambda sc: sc.change_details(
                by_user=user, name=name, description=description, tags=tags, at=at
            ),
            noop,
            ScriptDetailsChanged,
            user,
            at,
        )
        if not old.is_deleted:
            new = self.script.instance
            assert (new.name, new.description, new.tags) == expected

    @rule(user=s.uuids, at=s.moments)
    def enable(self, user: Any, at: Any) -> None:
        noop = self.script.instance.is_enabled
        self.behave(lambda sc: sc.enable(user, at=at), noop, ScriptEnabled, user, at)
        assert self.script.instance.is_enabled or self.script.instance.is_deleted

    @rule(user=s.uuids, at=s.moments)
    def disable(self, user: Any, at: Any) -> None:
        noop = not self.script.instance.is_enabled
        self.behave(lambda sc: sc.disable(user, at=at), noop, ScriptDisabled, user, at)
        assert not self.script.instance.is_enabled or self.script.instance.is_deleted

    @precondition(lambda self: self.script.instance.version > 3)
    @rule(user=s.uuids, at=s.moments)
    def delete(self, user: Any, at: Any) -> None:
        self.behave(lambda sc: sc.delete(user, at=at), False, ScriptDeleted, user, at)
        assert self.script.instance.is_deleted

    @rule()
    def store_the_script(self) -> None:
        instance = self.script.instance
        self.script.stored.extend(instance.pending_events)
        self.script.instance = instance.without_pending()

    # -- execution behaviours ---------------------------------------------------------------

    @rule(queued=st.booleans(), trigger=s.triggers, input=s.json_objects, at=s.moments)
    def open_an_execution(self, queued: bool, trigger: Any, input: Any, at: Any) -> None:
        script = self.script.instance
        opener = Execution.enqueue if queued else Execution.start

        def run() -> Execution:
            return opener(script=script, trigger=trigger, input=input, at=at)

        if script.is_deleted or not script.is_enabled:
            with pytest.raises(NotFound if script.is_deleted else InvalidTransition):
                call(script, run)
            return
        new = call(script, run)
        (event,) = new.pending_events
        assert type(event) is (ExecutionQueued if queued else ExecutionStarted)
        assert (new.status, new.version, new.started_at) == ((P, 1, None) if queued else (R, 1, at))
        assert (new.script_id, new.script_version, new.tenant_id) == (
            script.id,
            script.version,
            script.tenant_id,
        )
        assert (new.trigger, new.input) == (trigger, input)
        self.executions.append(Tracked(new))

    @precondition(lambda self: self.executions)
    @rule(pick=st.integers(0, 50), drift=DRIFT)
    def begin(self, pick: int, drift: timedelta) -> None:
        tracked = self.executions[pick % len(self.executions)]
        old = tracked.instance
        at = (old.started_at or self.created.created_at) + drift
        if (old.status, R) not in ALLOWED:
            with pytest.raises(InvalidTransition):
                call(old, lambda: old.begin(at=at))
            return
        tracked.instance = new = call(old, lambda: old.begin(at=at))
        new_event(old, new, ExecutionStarted, at=at)
        assert (new.status, new.started_at) == (R, at)

    @precondition(lambda self: self.executions)
    @rule(pick=st.integers(0, 50), status=st.sampled_from(ExecutionStatus), result=s.results)
    def complete(self, pick: int, status: ExecutionStatus, result: Any) -> None:
        tracked = self.executions[pick % len(self.executions)]
        old = tracked.instance
        at = (old.started_at or self.created.created_at) + timedelta(minutes=pick - 10)
        if status not in s.TERMINAL or (old.status, status) not in ALLOWED:
            with pytest.raises(InvalidTransition):
                call(old, lambda: old.complete(status, result, at=at))
            return
        tracked.instance = new = call(old, lambda: old.complete(status, result, at=at))
        event = new_event(old, new, ExecutionCompleted, at=at)
        assert (event.status, new.status, new.result, new.completed_at) == (
            status,
            status,
            result,
            at,
        )
        started = old.started_at
        assert new.duration == (max(at - started, timedelta(0)) if started else timedelta(0))

    @precondition(lambda self: self.executions)
    @rule(pick=st.integers(0, 50), kind=st.sampled_from([ExecutionQueued, ExecutionStarted, 0]))
    def folding_a_forbidden_event_raises(self, pick: int, kind: Any) -> None:
        tracked = self.executions[pick % len(self.executions)]
        state, first = tracked.instance, tracked.events[0]
        next_version = {"originator_version": state.version + 1}
        if kind == 0:  # a second completion
            if not state.status.is_terminal:
                return
            event: Any = ExecutionCompleted(
                **first.model_dump(include={"originator_id", "tenant_id", "user_id", "timestamp"}),
                **next_version,
                status=ExecutionStatus.COMPLETED,
                result=ExecutionResult(),
                duration=timedelta(0),
            )
        elif kind is ExecutionStarted and state.status is P:
            return
        else:
            event = kind(**{**first.model_dump(), **next_version})
        with pytest.raises(InvalidTransition):
            call(state, lambda: apply_execution(state, event))

    @precondition(lambda self: self.executions)
    @rule(pick=st.integers(0, 50))
    def store_an_execution(self, pick: int) -> None:
        tracked = self.executions[pick % len(self.executions)]
        tracked.stored.extend(tracked.instance.pending_events)
        tracked.instance = tracked.instance.without_pending()

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def every_aggregate_is_the_fold_of_its_events(self) -> None:
        pairs = [(self.script, fold_script)] + [(t, fold_execution) for t in self.executions]
        for tracked, fold in pairs:
            events, instance = tracked.events, tracked.instance
            assert instance.version == len(events)
            assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
            assert fold(events) == instance.without_pending()
            if tracked.stored:
                assert fold(instance.pending_events, fold(tracked.stored)) == fold(events)

    @invariant()
    def the_script_keeps_its_identity(self) -> None:
        now, then = self.script.instance, self.created
        keep = ("id", "tenant_id", "type", "created_at", "created_by")
        assert [getattr(now, k) for k in keep] == [getattr(then, k) for k in keep]

    @invariant()
    def executions_are_consistent_with_their_status(self) -> None:
        for tracked in self.executions:
            ex = tracked.instance
            terminal = ex.status.is_terminal
            assert (ex.completed_at is not None, ex.result is not None) == (terminal, terminal)
            assert ex.duration >= timedelta(0) and (terminal or not ex.duration)
            assert (ex.started_at is None) <= (ex.status is not R)


DomainMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestRandomBehaviourSequencesKeepEveryInvariant = DomainMachine.TestCase

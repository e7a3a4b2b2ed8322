"""Random sequences of Script and Execution behaviours keep every DESIGN §3 invariant."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from scripts_es.domain import Execution, ExecutionResult, ExecutionStatus, HTTPMetadata, Script
from scripts_es.domain.events import (
    EXECUTION_EVENTS,
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
from tests.support import strategies as s
from tests.unit.helpers import Tracked, call, one_new_event

P, R = ExecutionStatus.PENDING, ExecutionStatus.RUNNING
# DESIGN §3 written out: pending → running; pending | running → completed | failed | timeout.
ALLOWED = {(P, R)} | {(start, end) for start in (P, R) for end in s.TERMINAL}
ZERO = timedelta(0)
picks = st.integers(0, 50)
maybe = st.none() | st.just("same")
drifts = st.timedeltas(timedelta(hours=-1), timedelta(hours=3))  # clocks may disagree


class DomainMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.executions: list[Tracked] = []

    @initialize(script=s.scripts())
    def create_a_script(self, script: Script) -> None:
        assert (script.version, script.is_enabled, script.is_deleted) == (1, True, False)
        assert [type(e) for e in script.pending_events] == [ScriptCreated]
        self.script, self.created = Tracked(script), script

    def behave(
        self, kind: type, noop: bool, user: Any, at: Any, method: str, *a: Any, **kw: Any
    ) -> Any:
        """Run a script behaviour and check its outcome; return its event (None for a no-op)."""
        old = self.script.instance

        def run() -> Any:
            return getattr(old, method)(*a, by_user=user, at=at, **kw)

        if old.is_deleted:
            with pytest.raises(NotFound):
                call(old, run)
            return None
        new = call(old, run)
        if noop:
            assert new == old and new.pending_events == old.pending_events
            return None
        self.script.instance = new
        return one_new_event(old, new, kind, at, user)

    def pick(self, index: int) -> Tracked:
        return self.executions[index % len(self.executions)]

    # -- script behaviours ------------------------------------------------------------------

    @rule(same=st.booleans(), content=s.contents, user=s.uuids, at=s.moments)
    def update_content(self, same: bool, content: str, user: Any, at: Any) -> None:
        old = self.script.instance
        content = old.content if same else content
        noop = content == old.content
        event = self.behave(ScriptContentUpdated, noop, user, at, "update_content", content)
        if event is not None:
            assert (event.old_version, event.new_version) == (old.version, old.version + 1)
            assert self.script.instance.content == content

    @rule(same=st.booleans(), data=st.data(), user=s.uuids, at=s.moments)
    def change_metadata(self, same: bool, data: st.DataObject, user: Any, at: Any) -> None:
        old = self.script.instance
        if same and isinstance(old.metadata, HTTPMetadata):  # methods are case-insensitive
            metadata: Any = {"path": old.metadata.path, "method": old.metadata.method.lower()}
        else:
            metadata = old.metadata if same else data.draw(s.metadata_for(old.type))
        model = METADATA_FOR_TYPE[old.type]
        expected = metadata if isinstance(metadata, model) else model(**metadata)
        noop = expected == old.metadata
        event = self.behave(ScriptMetadataChanged, noop, user, at, "change_metadata", metadata)
        assert self.script.instance.metadata == (old.metadata if event is None else expected)

    @rule(other=s.script_types, data=st.data(), user=s.uuids)
    def change_metadata_to_another_type(self, other: Any, data: Any, user: Any) -> None:
        old = self.script.instance
        if other is not old.type and not old.is_deleted:
            metadata = data.draw(s.metadata_models[other])
            with pytest.raises(InvalidInput) as raised:
                call(old, lambda: old.change_metadata(metadata, user))
            assert raised.value.field == "metadata"

    @rule(
        name=maybe | s.names,
        text=maybe | s.descriptions,
        tags=maybe | s.tag_lists,
        user=s.uuids,
        at=s.moments,
    )
    def change_details(self, name: Any, text: Any, tags: Any, user: Any, at: Any) -> None:
        old = self.script.instance
        name = f"  {old.name} " if name == "same" else name
        text = old.description if text == "same" else text
        tags = [t.upper() for t in old.tags] if tags == "same" else tags
        expected = (
            old.name if name is None else name.strip(),
            old.description if text is None else text,
            old.tags if tags is None else s.normalise_tags(tags),
        )
        noop = expected == (old.name, old.description, old.tags)
        details = {"name": name, "description": text, "tags": tags}
        self.behave(ScriptDetailsChanged, noop, user, at, "change_details", **details)
        new = self.script.instance
        assert new.is_deleted or (new.name, new.description, new.tags) == expected

    @rule(user=s.uuids, at=s.moments)
    def enable(self, user: Any, at: Any) -> None:
        self.behave(ScriptEnabled, self.script.instance.is_enabled, user, at, "enable")
        assert self.script.instance.is_enabled or self.script.instance.is_deleted

    @rule(user=s.uuids, at=s.moments)
    def disable(self, user: Any, at: Any) -> None:
        self.behave(ScriptDisabled, not self.script.instance.is_enabled, user, at, "disable")
        assert not self.script.instance.is_enabled or self.script.instance.is_deleted

    @precondition(lambda self: self.script.instance.version > 3)
    @rule(user=s.uuids, at=s.moments)
    def delete(self, user: Any, at: Any) -> None:
        self.behave(ScriptDeleted, False, user, at, "delete")
        assert self.script.instance.is_deleted

    @rule()
    def store_the_script(self) -> None:
        self.script.store()

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
        assert [type(e) for e in new.pending_events] == [
            ExecutionQueued if queued else ExecutionStarted
        ]
        assert (new.status, new.version, new.started_at) == ((P, 1, None) if queued else (R, 1, at))
        assert (new.script_id, new.script_version) == (script.id, script.version)
        assert (new.tenant_id, new.trigger, new.input) == (script.tenant_id, trigger, input)
        self.executions.append(Tracked(new))

    @precondition(lambda self: self.executions)
    @rule(index=picks, drift=drifts)
    def begin(self, index: int, drift: timedelta) -> None:
        tracked = self.pick(index)
        old = tracked.instance
        at = (old.started_at or self.created.created_at) + drift
        if (old.status, R) not in ALLOWED:
            with pytest.raises(InvalidTransition):
                call(old, lambda: old.begin(at=at))
            return
        tracked.instance = new = call(old, lambda: old.begin(at=at))
        one_new_event(old, new, ExecutionStarted, at)
        assert (new.status, new.started_at) == (R, at)

    @precondition(lambda self: self.executions)
    @rule(index=picks, status=st.sampled_from(ExecutionStatus), result=s.results, drift=drifts)
    def complete(self, index: int, status: ExecutionStatus, result: Any, drift: timedelta) -> None:
        tracked = self.pick(index)
        old = tracked.instance
        at = (old.started_at or self.created.created_at) + drift
        if status not in s.TERMINAL or (old.status, status) not in ALLOWED:
            with pytest.raises(InvalidTransition):
                call(old, lambda: old.complete(status, result, at=at))
            return
        tracked.instance = new = call(old, lambda: old.complete(status, result, at=at))
        event = one_new_event(old, new, ExecutionCompleted, at)
        assert (event.status, new.status, new.result) == (status, status, result)
        assert new.completed_at == at
        started = old.started_at
        assert new.duration == (max(at - started, ZERO) if started else ZERO)

    @precondition(lambda self: self.executions)
    @rule(index=picks, kind=st.sampled_from(EXECUTION_EVENTS))
    def folding_a_forbidden_event_raises(self, index: int, kind: Any) -> None:
        tracked = self.pick(index)
        state, first = tracked.instance, tracked.events[0]
        common = first.model_dump(include={"originator_id", "tenant_id", "user_id", "timestamp"})
        common["originator_version"] = state.version + 1
        if kind is ExecutionCompleted:
            if not state.status.is_terminal:
                return
            event = kind(**common, status="completed", result=ExecutionResult(), duration=ZERO)
        elif kind is ExecutionStarted and state.status is P:
            return
        else:
            fields = {k: v for k, v in first.model_dump().items() if k in kind.model_fields}
            event = kind(**{**fields, **common})
        with pytest.raises(InvalidTransition):
            call(state, lambda: apply_execution(state, event))

    @precondition(lambda self: self.executions)
    @rule(index=picks)
    def store_an_execution(self, index: int) -> None:
        self.pick(index).store()

    # -- invariants -------------------------------------------------------------------------

    @invariant()
    def every_aggregate_is_the_fold_of_its_events(self) -> None:
        pairs = [(self.script, fold_script)] + [(t, fold_execution) for t in self.executions]
        for tracked, fold in pairs:
            events, instance = tracked.events, tracked.instance
            assert instance.version == len(events)
            assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
            assert fold(events) == instance.without_pending()
            if tracked.stored:  # a loaded instance plus new events folds the same way
                assert fold(instance.pending_events, fold(tracked.stored)) == fold(events)

    @invariant()
    def the_script_keeps_its_identity_and_type(self) -> None:
        keep = ("id", "tenant_id", "type", "created_at", "created_by")
        now, then = self.script.instance, self.created
        assert [getattr(now, k) for k in keep] == [getattr(then, k) for k in keep]

    @invariant()
    def executions_are_consistent_with_their_status(self) -> None:
        for execution in (t.instance for t in self.executions):
            terminal = execution.status.is_terminal
            assert (execution.completed_at is not None) is terminal
            assert (execution.result is not None) is terminal
            assert execution.duration >= ZERO and (terminal or execution.duration == ZERO)
            assert execution.status is not R or execution.started_at is not None


DomainMachine.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestRandomBehaviourSequencesKeepEveryInvariant = DomainMachine.TestCase

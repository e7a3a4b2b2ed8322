"""The Execution aggregate: one run of a script, pending → running → terminal."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from scripts_es.domain.events import (
    ExecutionCompleted,
    ExecutionEvent,
    ExecutionQueued,
    ExecutionStarted,
)
from scripts_es.domain.runs import ExecutionResult, ExecutionTrigger, execution_input
from scripts_es.domain.script import Script, now_or
from scripts_es.domain.values import ExecutionStatus
from scripts_es.errors import InvalidInput, InvalidTransition, NotFound

ZERO = timedelta(0)


def _trigger(value: ExecutionTrigger | dict[str, Any]) -> ExecutionTrigger:
    if isinstance(value, ExecutionTrigger):
        return value
    if isinstance(value, dict):
        return ExecutionTrigger.parse(value)
    raise InvalidInput("trigger", "must be an ExecutionTrigger")


class Execution(BaseModel):
    """A single run of a script. Behaviours return a new Execution with pending events."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    script_id: UUID
    tenant_id: UUID
    script_version: int
    status: ExecutionStatus
    result: ExecutionResult | None
    started_at: datetime | None
    completed_at: datetime | None
    duration: timedelta
    trigger: ExecutionTrigger
    input: dict[str, Any]
    version: int
    queued_at: datetime | None = None  # its first event (None only in a state stored by 0.1.0)
    worker: str | None = None  # the worker whose claim is running it
    lease_expires_at: datetime | None = None  # when that claim lapses (`sweep` times it out)
    pending_events: tuple[ExecutionEvent, ...] = Field(default=(), exclude=True, repr=False)

    @classmethod
    def start(
        cls,
        *,
        script: Script,
        trigger: ExecutionTrigger | dict[str, Any],
        input: dict[str, Any] | None = None,
        id: UUID | None = None,
        at: datetime | None = None,
    ) -> Execution:
        """A running execution of `script` with one pending ExecutionStarted."""
        return cls._open(ExecutionStarted, script, trigger, input, id, at)

    @classmethod
    def enqueue(
        cls,
        *,
        script: Script,
        trigger: ExecutionTrigger | dict[str, Any],
        input: dict[str, Any] | None = None,
        id: UUID | None = None,
        at: datetime | None = None,
    ) -> Execution:
        """A pending execution of `script` with one pending ExecutionQueued."""
        return cls._open(ExecutionQueued, script, trigger, input, id, at)

    @classmethod
    def _open(
        cls,
        event_cls: type[ExecutionQueued] | type[ExecutionStarted],
        script: Script,
        trigger: ExecutionTrigger | dict[str, Any],
        input: dict[str, Any] | None,
        id: UUID | None,
        at: datetime | None,
    ) -> Execution:
        if script.is_deleted:
            raise NotFound("script", script.id)
        if not script.is_enabled:
            raise InvalidTransition(f"script {script.id} is disabled and cannot run")
        checked_trigger = _trigger(trigger)
        event = event_cls(
            originator_id=id or uuid4(),
            originator_version=1,
            tenant_id=script.tenant_id,
            user_id=checked_trigger.triggered_by,
            timestamp=now_or(at),
            script_id=script.id,
            script_version=script.version,
            trigger=checked_trigger,
            input=execution_input(input),
        )
        return apply(None, event, pending=(event,))

    def begin(
        self,
        *,
        at: datetime | None = None,
        worker: str | None = None,
        lease_expires_at: datetime | None = None,
    ) -> Execution:
        """Move a pending execution to running (for `worker`, until its lease expires)."""
        if self.status is not ExecutionStatus.PENDING:
            raise InvalidTransition(f"cannot begin an execution that is {self.status.value}")
        if (worker is None) != (lease_expires_at is None):
            raise InvalidInput("lease", "a worker's claim needs both the worker and the lease")
        return self._record(
            ExecutionStarted(
                originator_id=self.id,
                originator_version=self.version + 1,
                tenant_id=self.tenant_id,
                user_id=self.trigger.triggered_by,
                timestamp=now_or(at),
                script_id=self.script_id,
                script_version=self.script_version,
                trigger=self.trigger,
                input=self.input,
                worker=worker,
                lease_expires_at=lease_expires_at,
            )
        )

    def complete(
        self,
        status: ExecutionStatus | str,
        result: ExecutionResult | dict[str, Any] | None = None,
        *,
        at: datetime | None = None,
    ) -> Execution:
        """Finish the execution as completed, failed or timeout."""
        try:
            target = ExecutionStatus(status)
        except ValueError:
            raise InvalidInput("status", f"unknown execution status {status!r}") from None
        if not target.is_terminal:
            raise InvalidTransition(f"cannot complete an execution as {target.value}")
        if self.status.is_terminal:
            raise InvalidTransition(f"execution {self.id} is already {self.status.value}")
        if result is None:
            checked = ExecutionResult()
        elif isinstance(result, ExecutionResult):
            checked = result
        else:
            checked = ExecutionResult.parse(result)
        when = now_or(at)
        duration = max(when - self.started_at, ZERO) if self.started_at else ZERO
        return self._record(
            ExecutionCompleted(
                originator_id=self.id,
                originator_version=self.version + 1,
                tenant_id=self.tenant_id,
                user_id=None,
                timestamp=when,
                status=target,
                result=checked,
                duration=duration,
            )
        )

    def with_pending(self, events: Sequence[ExecutionEvent]) -> Execution:
        return self.model_copy(update={"pending_events": self.pending_events + tuple(events)})

    def without_pending(self) -> Execution:
        """The same state, with no pending events (as if just loaded)."""
        return self.model_copy(update={"pending_events": ()}) if self.pending_events else self

    def _record(self, event: ExecutionEvent) -> Execution:
        return apply(self, event, pending=(*self.pending_events, event))


def apply(
    state: Execution | None,
    event: ExecutionEvent,
    *,
    pending: tuple[ExecutionEvent, ...] | None = None,
) -> Execution:
    """One step of the fold: the state after `event` (with `pending` as its pending events,
    in the same copy, when a behaviour records it)."""
    extra = {} if pending is None else {"pending_events": pending}
    if state is None:
        if not isinstance(event, ExecutionQueued | ExecutionStarted):
            raise InvalidTransition(f"execution {event.originator_id} was never started")
        if event.originator_version != 1:  # a stream missing its first event, not a new one
            raise InvalidTransition(f"execution {event.originator_id} has no first event")
        running = isinstance(event, ExecutionStarted)
        return Execution(
            id=event.originator_id,
            script_id=event.script_id,
            tenant_id=event.tenant_id,
            script_version=event.script_version,
            status=ExecutionStatus.RUNNING if running else ExecutionStatus.PENDING,
            result=None,
            started_at=event.timestamp if running else None,
            completed_at=None,
            duration=ZERO,
            trigger=event.trigger,
            input=event.input,
            version=event.originator_version,
            queued_at=event.timestamp,
            worker=event.worker if isinstance(event, ExecutionStarted) else None,
            lease_expires_at=event.lease_expires_at
            if isinstance(event, ExecutionStarted)
            else None,
            **extra,
        )
    if event.originator_version != state.version + 1:
        raise InvalidTransition(
            f"event version {event.originator_version} does not follow {state.version}"
        )
    if isinstance(event, ExecutionStarted) and state.status is ExecutionStatus.PENDING:
        return state.model_copy(
            update={
                "status": ExecutionStatus.RUNNING,
                "started_at": event.timestamp,
                "version": event.originator_version,
                "worker": event.worker,
                "lease_expires_at": event.lease_expires_at,
                **extra,
            }
        )
    if isinstance(event, ExecutionCompleted) and not state.status.is_terminal:
        return state.model_copy(
            update={
                "status": event.status,
                "result": event.result,
                "completed_at": event.timestamp,
                "duration": event.duration,
                "version": event.originator_version,
                **extra,
            }
        )
    raise InvalidTransition(
        f"{event.event_name} does not apply to a {state.status.value} execution"
    )


def fold(events: Iterable[ExecutionEvent], state: Execution | None = None) -> Execution:
    """Fold events onto a state (or from nothing); the result has no pending events."""
    for event in events:
        state = apply(state, event)
    if state is None:
        raise InvalidTransition("cannot fold an empty stream")
    return state.without_pending()

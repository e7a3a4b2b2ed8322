"""Domain events of both streams. Each is a frozen pydantic model with a class version.

Stored payloads carry `class_version`; on load, `upcast_vN_vN+1` static methods lift older payloads
step by step (the `eventsourcing` library's convention), so events written by older code still load.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, ClassVar
from uuid import UUID

from pydantic import BaseModel, ConfigDict, field_validator

from scripts_es.domain.runs import ExecutionResult, ExecutionTrigger
from scripts_es.domain.values import ExecutionStatus, ScriptMetadata, ScriptType, utc


class DomainEvent(BaseModel):
    """What every event carries: stream id and version, tenant, acting user, UTC time."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    class_version: ClassVar[int] = 1

    originator_id: UUID
    originator_version: int
    tenant_id: UUID
    user_id: UUID | None
    timestamp: datetime

    @field_validator("timestamp")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return utc(value)

    @property
    def event_name(self) -> str:
        """The event's name as shown in version history."""
        return type(self).__name__


class ScriptEvent(DomainEvent):
    """Base of the script stream's events."""


class ScriptCreated(ScriptEvent):
    class_version: ClassVar[int] = 2

    name: str
    description: str
    content: str
    type: ScriptType
    metadata: ScriptMetadata
    tags: tuple[str, ...]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # v1 had no tags, and its metadata carried no discriminator.
        state.setdefault("tags", [])
        state["metadata"] = {**state["metadata"], "kind": state["type"]}


class ScriptContentUpdated(ScriptEvent):
    content: str
    old_version: int
    new_version: int


class ScriptMetadataChanged(ScriptEvent):
    metadata: ScriptMetadata


class ScriptDetailsChanged(ScriptEvent):
    name: str
    description: str
    tags: tuple[str, ...]


class ScriptEnabled(ScriptEvent):
    pass


class ScriptDisabled(ScriptEvent):
    pass


class ScriptDeleted(ScriptEvent):
    pass


class ExecutionEvent(DomainEvent):
    """Base of the execution stream's events."""


class ExecutionQueued(ExecutionEvent):
    script_id: UUID
    script_version: int
    trigger: ExecutionTrigger
    input: dict[str, Any]


class ExecutionStarted(ExecutionEvent):
    """Starts a new execution, or begins a queued one (same payload either way). A worker's
    claim names the worker and the end of its lease (v2)."""

    class_version: ClassVar[int] = 2

    script_id: UUID
    script_version: int
    trigger: ExecutionTrigger
    input: dict[str, Any]
    worker: str | None = None
    lease_expires_at: datetime | None = None

    @field_validator("lease_expires_at")
    @classmethod
    def _lease(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value, "lease_expires_at")

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # v1 (release 0.1.0) had no workers: nobody claimed the run, no lease ends.
        state["worker"] = None
        state["lease_expires_at"] = None


class ExecutionCompleted(ExecutionEvent):
    class_version: ClassVar[int] = 2

    status: ExecutionStatus
    result: ExecutionResult
    duration: timedelta

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # v1 stored the duration as whole milliseconds under `duration_ms`.
        state["duration"] = timedelta(milliseconds=state.pop("duration_ms"))


SCRIPT_EVENTS: tuple[type[ScriptEvent], ...] = (
    ScriptCreated,
    ScriptContentUpdated,
    ScriptMetadataChanged,
    ScriptDetailsChanged,
    ScriptEnabled,
    ScriptDisabled,
    ScriptDeleted,
)
EXECUTION_EVENTS: tuple[type[ExecutionEvent], ...] = (
    ExecutionQueued,
    ExecutionStarted,
    ExecutionCompleted,
)

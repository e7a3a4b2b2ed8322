"""Commands a host app hands to `tenant.handle(...)`: frozen models of plain JSON-able fields.

Every command takes an optional `expected_version` (optimistic concurrency against the stream the
command targets) and an optional `command_id`: handling the same `command_id` twice applies it once
and returns the same result.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import Field

from scripts_es.domain.values import Days, ExecutionStatus, Positive, ScriptType, TriggerType, Value


class Command(Value):
    command_id: UUID | None = None
    expected_version: Positive | None = None  # 1 .. PostgreSQL bigint


class CreateScript(Command):
    name: str
    content: str
    type: ScriptType
    metadata: dict[str, Any] = Field(default_factory=dict)
    description: str = ""
    tags: list[str] = Field(default_factory=list)
    script_id: UUID | None = None


class UpdateScriptContent(Command):
    script_id: UUID
    content: str


class ChangeScriptMetadata(Command):
    script_id: UUID
    metadata: dict[str, Any]


class ChangeScriptDetails(Command):
    script_id: UUID
    name: str | None = None
    description: str | None = None
    tags: list[str] | None = None


class EnableScript(Command):
    script_id: UUID


class DisableScript(Command):
    script_id: UUID


class DeleteScript(Command):
    script_id: UUID


class TriggerData(Value):
    type: TriggerType
    triggered_by: UUID | None = None


class StartExecution(Command):
    script_id: UUID
    trigger: TriggerData
    input: dict[str, Any] | None = None
    execution_id: UUID | None = None


class EnqueueExecution(StartExecution):
    pass


class BeginExecution(Command):
    execution_id: UUID


class CompleteExecution(Command):
    execution_id: UUID
    status: Literal[ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT]
    result: dict[str, Any] | None = None


class FireScheduledRun(Command):
    """Fire a cron script's slot (from `due()`): one pending execution per (script, slot),
    however many schedulers fire it. When later slots have passed too, the latest one fires
    instead, recording how many were skipped (the misfire policy)."""

    script_id: UUID
    scheduled_for: datetime
    input: dict[str, Any] | None = None


class PruneScriptHistory(Command):
    script_id: UUID
    max_versions: Positive | None = None  # 1 .. PostgreSQL bigint
    retention_days: Days | None = None  # 1 .. MAX_DAYS (about 100 years)


ScriptCommand = (
    CreateScript
    | UpdateScriptContent
    | ChangeScriptMetadata
    | ChangeScriptDetails
    | EnableScript
    | DisableScript
    | DeleteScript
)
ExecutionCommand = (
    StartExecution | EnqueueExecution | BeginExecution | CompleteExecution | FireScheduledRun
)
AnyCommand = ScriptCommand | ExecutionCommand | PruneScriptHistory

"""Row builders: the one place that says how an aggregate state becomes read-model rows."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from psycopg.types.json import Json, Jsonb

from scripts_es.domain import Execution, Script
from scripts_es.domain.events import DomainEvent, ScriptEvent


def script_row(script: Script) -> tuple[Any, ...]:
    return (
        script.tenant_id,
        script.id,
        script.name,
        script.description,
        script.content,
        script.type.value,
        script.is_enabled,
        Jsonb(script.metadata.model_dump(mode="json")),
        list(script.tags),
        script.version,
        script.created_at,
        script.updated_at,
        script.created_by,
        script.updated_by,
    )


def version_row(event: ScriptEvent) -> tuple[int, str, Any, UUID | None]:
    return (event.originator_version, event.event_name, event.timestamp, event.user_id)


def execution_row(execution: Execution) -> tuple[Any, ...]:
    result = execution.result
    return (
        execution.tenant_id,
        execution.id,
        execution.script_id,
        execution.script_version,
        execution.status.value,
        None if result is None else Jsonb(result.model_dump(mode="json")),
        execution.started_at,
        execution.completed_at,
        execution.duration,
        execution.trigger.type.value,
        execution.trigger.triggered_by,
        Json(execution.input),
        execution.version,
        execution.queued_at,
        execution.worker,
        execution.lease_expires_at,
        execution.trigger.scheduled_for,
        execution.trigger.skipped_slots,
    )


SCRIPT_FIELDS = (
    "tenant_id",
    "id",
    "name",
    "description",
    "content",
    "type",
    "is_enabled",
    "metadata",
    "tags",
    "version",
    "created_at",
    "updated_at",
    "created_by",
    "updated_by",
)
EXECUTION_FIELDS = (
    "tenant_id",
    "id",
    "script_id",
    "script_version",
    "status",
    "result",
    "started_at",
    "completed_at",
    "duration",
    "trigger_type",
    "triggered_by",
    "input",
    "version",
    "queued_at",
    "worker",
    "lease_expires_at",
    "scheduled_for",
    "skipped_slots",
)


# Columns a row keeps from its first write: an upsert never changes them.
SCRIPT_FIXED = frozenset({"tenant_id", "id", "type", "created_at", "created_by"})
EXECUTION_FIXED = frozenset(
    {
        "tenant_id",
        "id",
        "script_id",
        "script_version",
        "trigger_type",
        "triggered_by",
        "input",
        "queued_at",
        "scheduled_for",
        "skipped_slots",
    }
)


def script_rows(
    script: Script, events: Iterable[DomainEvent], *, tags_changed: bool = True
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The parts of queries.sql that bring the script's rows up to its state (only those its
    change needs: no tag rows unless `tags_changed`), and their named parameters."""
    if script.is_deleted:
        return ("script_remove",), {"tenant_id": script.tenant_id, "id": script.id}
    params = dict(zip(SCRIPT_FIELDS, script_row(script), strict=True))
    versions = [version_row(e) for e in events if isinstance(e, ScriptEvent)]
    parts: tuple[str, ...] = ("script_upsert",)
    if len(versions) == 1:
        parts += ("script_version",)
        params["v_version"], params["v_change"], params["v_at"], params["v_by"] = versions[0]
    elif versions:
        parts += ("script_versions",)
        columns = [list(column) for column in zip(*versions, strict=True)]
        params["v_versions"], params["v_changes"], params["v_at"], params["v_by"] = columns
    if tags_changed:
        parts += ("script_retag",)
    return parts, params


def execution_rows(execution: Execution) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The part of queries.sql that brings the execution's row up to its state, and its
    named parameters."""
    return ("execution_upsert",), dict(zip(EXECUTION_FIELDS, execution_row(execution), strict=True))


@dataclass
class Rows:
    """Everything one batch of states and events asks of the read model."""

    scripts: list[tuple[Any, ...]] = field(default_factory=list)
    deleted_scripts: list[tuple[UUID, UUID]] = field(default_factory=list)
    versions: dict[tuple[UUID, UUID], list[tuple[int, str, Any, UUID | None]]] = field(
        default_factory=dict
    )
    executions: list[tuple[Any, ...]] = field(default_factory=list)
    size: int = 0  # rows held, kept as they are added (rebuild flushes by it)

    def add(self, state: Script | Execution, events: Iterable[DomainEvent]) -> None:
        """Add the rows for one stream: its state now and the events being projected."""
        self.size += 1
        if isinstance(state, Execution):
            self.executions.append(execution_row(state))
            return
        key = (state.tenant_id, state.id)
        if state.is_deleted:
            self.deleted_scripts.append(key)
            self.size -= len(self.versions.pop(key, ()))
            return
        self.scripts.append(script_row(state))
        versions = [version_row(e) for e in events if isinstance(e, ScriptEvent)]
        self.versions.setdefault(key, []).extend(versions)
        self.size += len(versions)

    def __len__(self) -> int:
        return self.size

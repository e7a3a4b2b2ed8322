"""Read-model rows back into domain objects, without validating them again.

The columns come in the order of projections/rows.py's field lists (the finders select them
so); the values were validated by the domain before they were stored.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

from projections.rows import EXECUTION_FIELDS, SCRIPT_FIELDS
from scripts_es.domain import Execution, Script
from scripts_es.domain.runs import ExecutionResult, ExecutionTrigger, LogEntry
from scripts_es.domain.values import METADATA_FOR_TYPE, ExecutionStatus, ScriptType, TriggerType

M = TypeVar("M", bound=BaseModel)
_FIELDS: dict[type[BaseModel], set[str]] = {}


def trusted(cls: type[M], values: dict[str, Any]) -> M:
    """Build a model from values our own projection validated on the way in, skipping
    validation (what `model_construct` does, without its per-field default handling)."""
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = set(cls.model_fields)
    obj = cls.__new__(cls)
    object.__setattr__(obj, "__dict__", values)
    object.__setattr__(obj, "__pydantic_fields_set__", fields)
    object.__setattr__(obj, "__pydantic_extra__", None)
    object.__setattr__(obj, "__pydantic_private__", None)
    return obj


_TYPES = {t.value: t for t in ScriptType}


def script_from_row(row: tuple[Any, ...]) -> Script:
    """A Script from a scripts row (columns in SCRIPT_FIELDS order)."""
    values = dict(zip(SCRIPT_FIELDS, row, strict=True))
    script_type = values["type"] = _TYPES[values["type"]]
    values["metadata"] = trusted(METADATA_FOR_TYPE[script_type], values["metadata"])
    values["tags"] = tuple(values["tags"])
    values["is_deleted"] = False
    values["pending_events"] = ()
    return trusted(Script, values)


_STATUSES = {s.value: s for s in ExecutionStatus}
_TRIGGERS = {t.value: t for t in TriggerType}


def execution_from_row(row: tuple[Any, ...]) -> Execution:
    """An Execution from an executions row (columns in EXECUTION_FIELDS order)."""
    values = dict(zip(EXECUTION_FIELDS, row, strict=True))
    result = values["result"]
    values["result"] = None if result is None else _result(result)
    values["status"] = _STATUSES[values["status"]]
    values["trigger"] = trusted(
        ExecutionTrigger,
        {
            "type": _TRIGGERS[values.pop("trigger_type")],
            "triggered_by": values.pop("triggered_by"),
            "scheduled_for": values.pop("scheduled_for"),
            "skipped_slots": values.pop("skipped_slots"),
        },
    )
    values["pending_events"] = ()
    return trusted(Execution, values)


def _result(data: dict[str, Any]) -> ExecutionResult:
    logs = tuple(LogEntry.model_validate(entry) for entry in data["logs"])
    return trusted(
        ExecutionResult, {"output": data["output"], "error": data["error"], "logs": logs}
    )

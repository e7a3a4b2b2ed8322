"""The values of an execution: its trigger, input and result (with its log)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal, Self
from uuid import UUID

from pydantic import field_validator, model_validator

from scripts_es.domain import validation as v
from scripts_es.domain.values import TriggerType, Value, utc
from scripts_es.errors import InvalidInput

MAX_INPUT_BYTES = 1024 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
MAX_LOG_ENTRIES = 10_000
MAX_INPUT_DEPTH = 100  # the event store's JSON encoder (orjson) refuses ~255 levels
_INT64 = range(-(2**63), 2**63)  # orjson, like most JSON stores, refuses wider integers


class ExecutionTrigger(Value):
    """Why an execution runs. A cron run names its slot (`scheduled_for`, UTC) and how many
    earlier slots the misfire policy skipped (`skipped_slots`, a floor past 10,000)."""

    type: TriggerType
    triggered_by: UUID | None = None
    scheduled_for: datetime | None = None
    skipped_slots: int = 0

    @field_validator("scheduled_for")
    @classmethod
    def _slot(cls, value: datetime | None) -> datetime | None:
        return None if value is None else utc(value, "scheduled_for")

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.type is TriggerType.MANUAL and self.triggered_by is None:
            raise InvalidInput("triggered_by", "a manual trigger needs the user who triggered it")
        if self.type is not TriggerType.CRON and (self.scheduled_for or self.skipped_slots):
            raise InvalidInput("scheduled_for", "only a cron trigger has a scheduled slot")
        if not 0 <= self.skipped_slots <= v.MAX_BIGINT:
            raise InvalidInput("skipped_slots", "must be a whole number of slots, at least 0")
        return self


class LogEntry(Value):
    timestamp: datetime
    level: Literal["debug", "info", "warning", "error"]
    message: str

    @field_validator("timestamp")
    @classmethod
    def _ts(cls, value: datetime) -> datetime:
        return utc(value, "timestamp")

    @field_validator("message")
    @classmethod
    def _msg(cls, value: str) -> str:
        return v.no_nul("message", value)


class ExecutionResult(Value):
    output: str = ""
    error: str = ""
    logs: tuple[LogEntry, ...] = ()

    @field_validator("output")
    @classmethod
    def _output(cls, value: str) -> str:
        return _bounded_text("output", value, MAX_OUTPUT_BYTES, "1 MiB")

    @field_validator("error")
    @classmethod
    def _error(cls, value: str) -> str:
        return _bounded_text("error", value, MAX_ERROR_BYTES, "64 KiB")

    @field_validator("logs", mode="before")
    @classmethod
    def _logs(cls, value: object) -> object:
        if isinstance(value, list | tuple) and len(value) > MAX_LOG_ENTRIES:
            raise InvalidInput("logs", f"at most {MAX_LOG_ENTRIES} log entries")
        return value


def _bounded_text(field: str, value: str, limit: int, label: str) -> str:
    v.no_nul(field, value)
    if len(value) * 4 > limit and len(value.encode("utf-8")) > limit:
        raise InvalidInput(field, f"must be at most {label} of UTF-8")
    return value


def execution_input(value: object) -> dict[str, Any]:
    """Check an execution input: a JSON object with string keys, at most 1 MiB."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidInput("input", "must be a JSON object")
    _check_json_tree(value)
    try:
        encoded = json.dumps(value, allow_nan=False, ensure_ascii=False, separators=(",", ":"))
    except (TypeError, ValueError) as error:
        raise InvalidInput("input", f"must be JSON-serialisable: {error}") from None
    if len(encoded.encode("utf-8")) > MAX_INPUT_BYTES:
        raise InvalidInput("input", "must be at most 1 MiB serialised")
    decoded: dict[str, Any] = json.loads(encoded)
    return decoded


def _check_json_tree(root: dict[str, Any]) -> None:
    """Reject what `json.dumps` would silently rewrite (non-string keys) or the store can't hold."""
    stack: list[tuple[object, int]] = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, str):
            v.no_nul("input", node)
        elif isinstance(node, int) and not isinstance(node, bool) and node not in _INT64:
            raise InvalidInput("input", "integers must fit in 64 bits")
        elif isinstance(node, dict | list | tuple):
            if depth > MAX_INPUT_DEPTH:
                raise InvalidInput("input", f"must be nested at most {MAX_INPUT_DEPTH} levels deep")
            if isinstance(node, dict):
                for key in node:
                    if not isinstance(key, str):
                        raise InvalidInput("input", "object keys must be strings")
                    v.no_nul("input", key)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)

"""Value objects: frozen pydantic models that validate on construction."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, Self
from uuid import UUID
from zoneinfo import available_timezones

from cronsim import CronSim, CronSimError
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from scripts_es.domain import validation as v
from scripts_es.errors import InvalidInput

MAX_INPUT_BYTES = 1024 * 1024
MAX_OUTPUT_BYTES = 1024 * 1024
MAX_ERROR_BYTES = 64 * 1024
MAX_LOG_ENTRIES = 10_000
MAX_INPUT_DEPTH = 100  # the event store's JSON encoder (orjson) refuses ~255 levels
_INT64 = range(-(2**63), 2**63)  # orjson, like most JSON stores, refuses wider integers


def invalid_input_from(error: ValidationError, prefix: str = "") -> InvalidInput:
    """Turn pydantic's error into ours, keeping the field path and our own message."""
    first = error.errors()[0]
    loc = ".".join(str(part) for part in first["loc"] if not isinstance(part, int))
    cause = first.get("ctx", {}).get("error")
    if isinstance(cause, InvalidInput):
        field = cause.field if not loc or loc.endswith(cause.field) else f"{loc}"
        return InvalidInput(_join(prefix, field), cause.message)
    return InvalidInput(_join(prefix, loc or "value"), first["msg"])


def _join(prefix: str, field: str) -> str:
    return f"{prefix}.{field}" if prefix and field else prefix or field


class Value(BaseModel):
    """Base of every value object: frozen, no unknown fields, errors as InvalidInput."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as error:
            raise invalid_input_from(error) from None

    # Only the outermost call converts errors. Nested values are validated by pydantic itself,
    # not through this __init__: pydantic would call it with the caller's dict as keyword
    # arguments, and a dict with a non-string key ({0: ...}) raised TypeError before any
    # validation ran.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def parse(cls, data: Any) -> Self:
        """Validate plain data (a dict, as from JSON) into this value object."""
        try:
            return cls.model_validate(data)
        except ValidationError as error:
            raise invalid_input_from(error) from None


def utc(value: datetime, field: str = "timestamp") -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(field, "must be timezone-aware")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00 is before the first datetime in UTC
        raise InvalidInput(
            field, "must lie between 0001-01-01 and 9999-12-31 once converted to UTC"
        ) from None


def _not_bool(value: object) -> object:
    if isinstance(value, bool):
        raise InvalidInput("value", "must be a whole number, not bool")
    return value


def _days(value: int, info: ValidationInfo) -> int:
    return v.days(info.field_name or "days", value)


def _version(value: int, info: ValidationInfo) -> int:
    return v.bigint(info.field_name or "version", value, minimum=1)


def _count(value: int, info: ValidationInfo) -> int:
    return v.bigint(info.field_name or "count", value, minimum=0)


# Bounded integers for value objects, commands and query parameters (bounds in validation.py).
Days = Annotated[int, BeforeValidator(_not_bool), AfterValidator(_days)]  # 1..MAX_DAYS
Positive = Annotated[int, BeforeValidator(_not_bool), AfterValidator(_version)]  # 1..bigint
Count = Annotated[int, BeforeValidator(_not_bool), AfterValidator(_count)]  # 0..bigint


class ScriptType(StrEnum):
    CRON = "cron"
    HTTP = "http"
    ONE_OFF = "one_off"
    EMBEDDED = "embedded"


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    TIMEOUT = "timeout"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT}
)


class TriggerType(StrEnum):
    MANUAL = "manual"
    CRON = "cron"
    API = "api"


@lru_cache(maxsize=1)
def _timezones() -> frozenset[str]:
    # tzdata ships a few files that are not zone names (the host's "localtime", ...).
    not_zones = {"localtime", "posixrules", "Factory", "leapseconds", "tzdata.zi"}
    return (frozenset(available_timezones()) - not_zones) | {"UTC"}


@lru_cache(maxsize=4096)
def _check_cron(text: str) -> None:
    """Parse once per distinct expression: loading events re-validates them (only valid
    expressions are cached; an invalid one raises every time)."""
    if len(text.split()) != 5:
        raise InvalidInput("cron_expression", "must have exactly 5 fields")
    try:
        CronSim(text, datetime(2000, 1, 1))
    except (CronSimError, ValueError) as error:
        raise InvalidInput("cron_expression", f"is not a valid cron expression: {error}") from None


class CronMetadata(Value):
    kind: Literal["cron"] = "cron"
    cron_expression: str
    timezone: str = "UTC"

    @field_validator("cron_expression", mode="before")
    @classmethod
    def _cron(cls, value: object) -> str:
        text = v.no_nul("cron_expression", v.require_str("cron_expression", value)).strip()
        _check_cron(text)
        return text

    @field_validator("timezone", mode="before")
    @classmethod
    def _tz(cls, value: object) -> str:
        text = v.require_str("timezone", value)
        if text not in _timezones():
            raise InvalidInput("timezone", f"unknown IANA time zone {text!r}")
        return text


class HTTPMetadata(Value):
    kind: Literal["http"] = "http"
    path: str
    method: str = "GET"

    @field_validator("path", mode="before")
    @classmethod
    def _path(cls, value: object) -> str:
        return v.http_path(value)

    @field_validator("method", mode="before")
    @classmethod
    def _method(cls, value: object) -> str:
        method = v.require_str("method", value).upper()
        if method not in {"GET", "POST", "PUT", "PATCH", "DELETE"}:
            raise InvalidInput("method", "must be one of GET, POST, PUT, PATCH, DELETE")
        return method


class OneOffMetadata(Value):
    kind: Literal["one_off"] = "one_off"


class EmbeddedMetadata(Value):
    kind: Literal["embedded"] = "embedded"


ScriptMetadata = Annotated[
    CronMetadata | HTTPMetadata | OneOffMetadata | EmbeddedMetadata, Field(discriminator="kind")
]

METADATA_FOR_TYPE: dict[ScriptType, type[Value]] = {
    ScriptType.CRON: CronMetadata,
    ScriptType.HTTP: HTTPMetadata,
    ScriptType.ONE_OFF: OneOffMetadata,
    ScriptType.EMBEDDED: EmbeddedMetadata,
}


def metadata_for(type_: ScriptType, data: object) -> Value:
    """Parse or check metadata so that it matches the script type."""
    expected = METADATA_FOR_TYPE[type_]
    if isinstance(data, expected):
        return data
    if isinstance(data, Value):
        raise InvalidInput("metadata", f"a {type_.value} script needs {expected.__name__}")
    if not isinstance(data, dict):
        raise InvalidInput("metadata", f"must be {expected.__name__} or an object")
    if data.get("kind", type_.value) != type_.value:
        raise InvalidInput("metadata", f"a {type_.value} script needs {expected.__name__}")
    try:
        return expected.model_validate({**data, "kind": type_.value})
    except ValidationError as error:
        raise invalid_input_from(error, "metadata") from None


class ExecutionTrigger(Value):
    type: TriggerType
    triggered_by: UUID | None = None

    @model_validator(mode="after")
    def _manual_needs_user(self) -> Self:
        if self.type is TriggerType.MANUAL and self.triggered_by is None:
            raise InvalidInput("triggered_by", "a manual trigger needs the user who triggered it")
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


class VersionInfo(Value):
    version: int
    updated_at: datetime
    updated_by: UUID | None
    change: str


class VersionRetentionPolicy(Value):
    max_versions: Positive | None = None  # 1 .. PostgreSQL bigint
    retention_days: Days | None = None  # 1 .. MAX_DAYS (about 100 years)

    def horizon(self, timestamps: dict[int, datetime], current: int, now: datetime) -> int:
        """Smallest retained version among the stored ones (DESIGN §5); `current` always is."""
        floor = current - self.max_versions if self.max_versions is not None else 0
        cutoff = now - timedelta(days=self.retention_days) if self.retention_days else None
        retained = [
            version
            for version, stamp in timestamps.items()
            if version > floor and (cutoff is None or stamp >= cutoff)
        ]
        return min([*retained, current])


class PruneResult(Value):
    script_id: UUID
    horizon: int
    removed: int

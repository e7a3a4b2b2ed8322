"""Value objects: frozen pydantic models that validate on construction."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Annotated, Any, Literal, Self
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
)

from scripts_es.domain import validation as v
from scripts_es.errors import InvalidInput


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

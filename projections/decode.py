"""Trusted decoding: read-model rows and stored events back into domain objects, without
validating them again.

The read-model columns come in the order of projections/rows.py's field lists (the finders
select them so); the values were validated by the domain before they were stored. Stored
events were validated when they were written: rebuild decodes them with the conversions their
JSON form needs (ids, UTC instants, enums), after the same upcasting as the mapper, and falls
back to the mapper's full validation for whatever that cannot convert.
"""

from __future__ import annotations

import types
from collections.abc import Callable
from datetime import UTC, datetime
from enum import Enum
from functools import cache, lru_cache
from typing import Annotated, Any, Literal, TypeVar, Union, get_args, get_origin
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from pydantic import BaseModel, TypeAdapter

from projections.rows import EXECUTION_FIELDS, SCRIPT_FIELDS
from scripts_es.domain import Execution, Script
from scripts_es.domain.events import DomainEvent
from scripts_es.domain.runs import ExecutionResult, ExecutionTrigger, LogEntry
from scripts_es.domain.values import METADATA_FOR_TYPE, ExecutionStatus, ScriptType, TriggerType
from scripts_es.store.mapper import PydanticMapper, resolve_topic, upcast

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


Convert = Callable[[Any], Any]


class _Untrusted(Exception):
    """A stored value the trusted path does not convert: validate the event in full."""


def _instant(value: Any) -> datetime:
    # What DomainEvent's validators make of a stored instant: an aware datetime, in UTC.
    if not isinstance(value, str):
        raise _Untrusted
    parsed = datetime.fromisoformat(value)
    if parsed.utcoffset() is None:
        raise _Untrusted
    return parsed.astimezone(UTC)


_parse_uuid = TypeAdapter(UUID).validate_python  # pydantic's parser: several times uuid.UUID's


def _uuid(value: Any) -> UUID:
    return value if isinstance(value, UUID) else _cached_uuid(value)


@lru_cache(maxsize=1024)  # tenants and users recur in every event
def _cached_uuid(value: str) -> UUID:
    return _parse_uuid(value)


def _optional(convert: Convert) -> Convert:
    return lambda value: None if value is None else convert(value)


def _converter(annotation: Any) -> Convert | None:
    """How a field's stored JSON value becomes its value (None: it is used as it is)."""
    origin = get_origin(annotation)
    if annotation in (str, int, bool) or origin in (dict, Literal):
        return None
    if annotation is UUID:
        return _uuid
    if annotation is datetime:
        return _instant
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        build = _builder(annotation)
        if build is not None:
            return lambda value: build(dict(value))
    if origin is tuple and get_args(annotation)[1:] == (...,):
        item = _converter(get_args(annotation)[0])
        if item is None:
            return tuple
        return lambda values: tuple(map(item, values))
    if origin is Annotated:
        return _discriminated(annotation) or TypeAdapter(annotation).validate_python
    if origin in (Union, types.UnionType):
        args = get_args(annotation)
        if len(args) == 2 and type(None) in args:
            inner = next(a for a in args if a is not type(None))
            convert = _converter(inner)
            if convert is None:
                return None
            return lambda value: None if value is None else convert(value)
    # Anything else (durations, values checked as a whole): pydantic's own validation.
    return TypeAdapter(annotation).validate_python


def _discriminated(annotation: Any) -> Convert | None:
    """A union of models told apart by a literal field (script metadata), built by its kind."""
    union, *extras = get_args(annotation)
    field = next((getattr(e, "discriminator", None) for e in extras), None)
    if not isinstance(field, str):
        return None
    builders: dict[Any, Callable[[dict[str, Any]], Any]] = {}
    for member in get_args(union):
        build = _builder(member)
        if build is None:
            return None
        for tag in get_args(member.model_fields[field].annotation):
            builders[tag] = build
    return lambda value: builders[value[field]](dict(value))


@cache
def _builder(cls: type[BaseModel]) -> Callable[[dict[str, Any]], Any] | None:
    """A trusted constructor of `cls` from its stored JSON form: only the type conversions.

    Field validators are not run: a stored value is the dump of a value they already accepted
    and normalised (they are idempotent on their own output). None for a model with a model
    validator (a check across fields): its values are validated in full.
    """
    decorators = cls.__pydantic_decorators__
    if decorators.model_validators or decorators.root_validators:
        return None
    fields = cls.model_fields
    converters = [(name, _converter(info.annotation)) for name, info in fields.items()]
    names = set(fields)
    required = {name for name, info in fields.items() if info.is_required()}
    defaults = {
        name: info.get_default(call_default_factory=True)
        for name, info in fields.items()
        if not info.is_required()
    }

    def build(state: dict[str, Any]) -> Any:
        if not state.keys() <= names or not required <= state.keys():
            raise _Untrusted
        for name, convert in converters:
            if name in state:
                if convert is not None:
                    state[name] = convert(state[name])
            else:
                state[name] = defaults[name]
        return trusted(cls, state)

    return build


def stored_event(
    mapper: PydanticMapper, stream_id: UUID, version: int, topic: str, state: bytes
) -> DomainEvent:
    """A stored event as a domain event, trusted (the same value `mapper` would validate)."""
    cls = _topic(topic)
    build = _builder(cls)
    if build is not None:
        try:
            payload = upcast(cls, mapper.transcoder.decode(state))
            payload["originator_id"] = stream_id
            payload["originator_version"] = version
            built: DomainEvent = build(payload)
            return built
        except (_Untrusted, ValueError, TypeError, KeyError):
            pass
    event: DomainEvent = mapper.to_domain_event(StoredEvent(stream_id, version, topic, state))
    return event


@cache
def _topic(topic: str) -> type[DomainEvent]:
    cls: type[DomainEvent] = resolve_topic(topic)
    return cls

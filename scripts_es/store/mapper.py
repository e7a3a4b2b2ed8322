"""Pydantic events ⇄ the `eventsourcing` library's StoredEvent, JSON-encoded with orjson.

Follows the library's pydantic-mapper example: a Mapper subclass that dumps and validates models
instead of copying `__dict__`, with the library's `class_version` / `upcast_vN_vN+1` convention.
"""

from __future__ import annotations

from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import Mapper, StoredEvent, Transcoder
from eventsourcing.utils import get_topic, resolve_topic

__all__ = ["OrjsonTranscoder", "PydanticMapper", "get_topic", "resolve_topic", "upcast"]
from pydantic import BaseModel

from scripts_es.domain.events import DomainEvent

_ID_FIELDS = {"originator_id", "originator_version"}


class OrjsonTranscoder(Transcoder):
    """JSON bytes via orjson; values are already JSON-safe (pydantic's json mode)."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


def upcast(cls: type[Any], state: dict[str, Any]) -> dict[str, Any]:
    """Lift a stored payload to the class's current version, one step at a time."""
    target = getattr(cls, "class_version", 1)
    version = state.pop("class_version", 1)
    while version < target:
        getattr(cls, f"upcast_v{version}_v{version + 1}")(state)
        version += 1
    return state


def _state(event: DomainEvent, class_version: int) -> dict[str, Any]:
    state: dict[str, Any] = event.model_dump(mode="json", exclude=_ID_FIELDS)
    if class_version > 1:
        state["class_version"] = class_version
    return state


class PydanticMapper(Mapper[UUID]):
    """Maps DomainEvent models (and aggregate snapshots) to and from StoredEvent."""

    def __init__(self, transcoder: Transcoder | None = None) -> None:
        super().__init__(transcoder or OrjsonTranscoder())
        self._encoders: dict[type[Any], tuple[str, int]] = {}

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        topic, state = self.encode(event)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=topic,
            state=state,
        )

    def encode(self, event: DomainEvent) -> tuple[str, bytes]:
        """(topic, stored state) of an event this process made: a validated model, so it is
        serialised straight to JSON by pydantic (no intermediate dict); the bytes equal what
        the transcoder makes of `model_dump(mode="json")` (tests/store/test_mapper.py)."""
        cls = type(event)
        known = self._encoders.get(cls)
        if known is None:
            known = self._encoders[cls] = (get_topic(cls), getattr(cls, "class_version", 1))
        topic, class_version = known
        if not isinstance(self.transcoder, OrjsonTranscoder):
            return topic, self.transcoder.encode(_state(event, class_version))
        state = event.__pydantic_serializer__.to_json(event, exclude=_ID_FIELDS)
        if class_version > 1:  # the payload's own version, last (as `_state` puts it)
            comma = b"," if len(state) > 2 else b""
            state = b'%s%s"class_version":%d}' % (state[:-1], comma, class_version)
        return topic, state

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        cls = resolve_topic(stored_event.topic)
        state = upcast(cls, self.transcoder.decode(stored_event.state))
        state["originator_id"] = stored_event.originator_id
        state["originator_version"] = stored_event.originator_version
        return cls.model_validate(state)

    def to_snapshot(self, aggregate: BaseModel, version: int) -> StoredEvent:
        """An aggregate's whole state as a snapshot record at `version`."""
        return StoredEvent(
            originator_id=aggregate.id,  # type: ignore[attr-defined]
            originator_version=version,
            topic=get_topic(type(aggregate)),
            state=self.transcoder.encode(aggregate.model_dump(mode="json")),
        )

    def from_snapshot(self, stored: StoredEvent) -> Any:
        cls = resolve_topic(stored.topic)
        return cls.model_validate(self.transcoder.decode(stored.state))

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


class PydanticMapper(Mapper[UUID]):
    """Maps DomainEvent models (and aggregate snapshots) to and from StoredEvent."""

    def __init__(self, transcoder: Transcoder | None = None) -> None:
        super().__init__(transcoder or OrjsonTranscoder())

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event = cast(DomainEvent, domain_event)
        state = event.model_dump(mode="json", exclude=_ID_FIELDS)
        class_version = getattr(type(event), "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=get_topic(type(event)),
            state=self.transcoder.encode(state),
        )

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

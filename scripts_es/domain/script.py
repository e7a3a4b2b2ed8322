"""The Script aggregate: an immutable value whose state is the fold of its events."""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field

from scripts_es.domain import validation as v
from scripts_es.domain.events import (
    ScriptContentUpdated,
    ScriptCreated,
    ScriptDeleted,
    ScriptDetailsChanged,
    ScriptDisabled,
    ScriptEnabled,
    ScriptEvent,
    ScriptMetadataChanged,
)
from scripts_es.domain.values import ScriptMetadata, ScriptType, metadata_for, utc
from scripts_es.errors import InvalidInput, InvalidTransition, NotFound

EventT = TypeVar("EventT", bound=ScriptEvent)


def user_id(field: str, value: object) -> UUID:
    if not isinstance(value, UUID):
        raise InvalidInput(field, "must be a UUID")
    return value


def now_or(at: datetime | None) -> datetime:
    """The behaviour's time: `at` (aware, any zone) in UTC, or now."""
    if at is None:
        return datetime.now(UTC)
    if not isinstance(at, datetime):
        raise InvalidInput("at", "must be a datetime")
    return utc(at, "at")


class Script(BaseModel):
    """A user-defined script. Behaviours return a new Script carrying its new pending events."""

    model_config = ConfigDict(frozen=True)

    id: UUID
    tenant_id: UUID
    name: str
    description: str
    content: str
    type: ScriptType
    version: int
    is_enabled: bool
    metadata: ScriptMetadata
    tags: tuple[str, ...]
    created_at: datetime
    updated_at: datetime
    created_by: UUID
    updated_by: UUID
    is_deleted: bool = False
    pending_events: tuple[ScriptEvent, ...] = Field(default=(), exclude=True, repr=False)

    # -- creation ---------------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        tenant_id: UUID,
        created_by: UUID,
        name: str,
        content: str,
        type: ScriptType | str,
        metadata: Any,
        description: str = "",
        tags: Iterable[str] = (),
        id: UUID | None = None,
        at: datetime | None = None,
    ) -> Script:
        """A new enabled script at version 1 with one pending ScriptCreated."""
        try:
            script_type = ScriptType(type)
        except ValueError:
            raise InvalidInput("type", f"must be one of {[t.value for t in ScriptType]}") from None
        event = ScriptCreated(
            originator_id=id or uuid4(),
            originator_version=1,
            tenant_id=user_id("tenant_id", tenant_id),
            user_id=user_id("created_by", created_by),
            timestamp=now_or(at),
            name=v.name(name),
            description=v.description(description),
            content=v.content(content),
            type=script_type,
            metadata=metadata_for(script_type, metadata),
            tags=v.tags(tags),
        )
        return apply(None, event, pending=(event,))

    # -- behaviours -------------------------------------------------------------------------

    def update_content(self, content: str, by_user: UUID, *, at: datetime | None = None) -> Script:
        """Replace the content; same content is a no-op."""
        self._check_live()
        new = v.content(content)
        if new == self.content:
            return self
        return self._record(
            ScriptContentUpdated,
            by_user,
            at,
            content=new,
            old_version=self.version,
            new_version=self.version + 1,
        )

    def change_metadata(
        self, metadata: Any, by_user: UUID, *, at: datetime | None = None
    ) -> Script:
        """Replace the type-specific metadata (it must match the script's type)."""
        self._check_live()
        new = metadata_for(self.type, metadata)
        if new == self.metadata:
            return self
        return self._record(ScriptMetadataChanged, by_user, at, metadata=new)

    def change_details(
        self,
        *,
        by_user: UUID,
        name: str | None = None,
        description: str | None = None,
        tags: Iterable[str] | None = None,
        at: datetime | None = None,
    ) -> Script:
        """Change name, description and/or tags; unchanged values emit nothing."""
        self._check_live()
        new_name = self.name if name is None else v.name(name)
        new_description = self.description if description is None else v.description(description)
        new_tags = self.tags if tags is None else v.tags(tags)
        if (new_name, new_description, new_tags) == (self.name, self.description, self.tags):
            return self
        return self._record(
            ScriptDetailsChanged,
            by_user,
            at,
            name=new_name,
            description=new_description,
            tags=new_tags,
        )

    def enable(self, by_user: UUID, *, at: datetime | None = None) -> Script:
        """Enable the script; already enabled is a no-op."""
        self._check_live()
        return self if self.is_enabled else self._record(ScriptEnabled, by_user, at)

    def disable(self, by_user: UUID, *, at: datetime | None = None) -> Script:
        """Disable the script; already disabled is a no-op."""
        self._check_live()
        return self._record(ScriptDisabled, by_user, at) if self.is_enabled else self

    def delete(self, by_user: UUID, *, at: datetime | None = None) -> Script:
        """Delete the script: it disappears from every read and takes no further commands."""
        self._check_live()
        return self._record(ScriptDeleted, by_user, at)

    # -- plumbing ---------------------------------------------------------------------------

    def with_pending(self, events: Sequence[ScriptEvent]) -> Script:
        return self.model_copy(update={"pending_events": self.pending_events + tuple(events)})

    def without_pending(self) -> Script:
        """The same state, with no pending events (as if just loaded)."""
        return self.model_copy(update={"pending_events": ()}) if self.pending_events else self

    def _check_live(self) -> None:
        if self.is_deleted:
            raise NotFound("script", self.id)

    def _record(
        self, cls: builtins.type[EventT], by_user: UUID, at: datetime | None, **fields: Any
    ) -> Script:
        event = cls(
            originator_id=self.id,
            originator_version=self.version + 1,
            tenant_id=self.tenant_id,
            user_id=user_id("by_user", by_user),
            timestamp=now_or(at),
            **fields,
        )
        return apply(self, event, pending=(*self.pending_events, event))


# -- the fold ---------------------------------------------------------------------------------


def _touch(event: ScriptEvent, **changes: Any) -> dict[str, Any]:
    assert event.user_id is not None
    return {
        "version": event.originator_version,
        "updated_at": event.timestamp,
        "updated_by": event.user_id,
        **changes,
    }


def _created(
    state: Script | None, event: ScriptCreated, pending: tuple[ScriptEvent, ...]
) -> Script:
    if state is not None:
        raise InvalidTransition(f"script {event.originator_id} already exists")
    assert event.user_id is not None
    return Script(
        id=event.originator_id,
        tenant_id=event.tenant_id,
        name=event.name,
        description=event.description,
        content=event.content,
        type=event.type,
        version=event.originator_version,
        is_enabled=True,
        metadata=event.metadata,
        tags=event.tags,
        created_at=event.timestamp,
        updated_at=event.timestamp,
        created_by=event.user_id,
        updated_by=event.user_id,
        pending_events=pending,
    )


# What each event changes in the state (the fold's one step is one copy with these fields).
_CHANGES: dict[type[ScriptEvent], Callable[[Any], dict[str, Any]]] = {
    ScriptContentUpdated: lambda e: _touch(e, content=e.content),
    ScriptMetadataChanged: lambda e: _touch(e, metadata=e.metadata),
    ScriptDetailsChanged: lambda e: _touch(e, name=e.name, description=e.description, tags=e.tags),
    ScriptEnabled: lambda e: _touch(e, is_enabled=True),
    ScriptDisabled: lambda e: _touch(e, is_enabled=False),
    ScriptDeleted: lambda e: _touch(e, is_deleted=True),
}


def apply(
    state: Script | None, event: ScriptEvent, *, pending: tuple[ScriptEvent, ...] | None = None
) -> Script:
    """One step of the fold: the state after `event` (with `pending` as its pending events,
    in the same copy, when a behaviour records it)."""
    if isinstance(event, ScriptCreated):
        return _created(state, event, pending or ())
    if state is None:
        raise InvalidTransition(f"script {event.originator_id} has no ScriptCreated event")
    if event.originator_version != state.version + 1:
        raise InvalidTransition(
            f"event version {event.originator_version} does not follow {state.version}"
        )
    changes = _CHANGES[type(event)](event)
    if pending is not None:
        changes["pending_events"] = pending
    return state.model_copy(update=changes)


def fold(events: Iterable[ScriptEvent], state: Script | None = None) -> Script:
    """Fold events onto a state (or from nothing); the result has no pending events."""
    for event in events:
        state = apply(state, event)
    if state is None:
        raise InvalidTransition("cannot fold an empty stream")
    return state.without_pending()

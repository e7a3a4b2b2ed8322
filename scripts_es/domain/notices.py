"""Notices the event feed delivers in place of an event: not domain events, never stored."""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict


class EventPruned(BaseModel):
    """The event at this feed position was removed by pruning before this consumer read it.

    The feed never skips a position silently: a consumer behind a prune gets this notice (with
    the stream, version and topic of the event it will not see) and decides what to do, for
    example rebuild its view of that stream from the stream's snapshot.
    """

    model_config = ConfigDict(frozen=True)

    originator_id: UUID
    originator_version: int
    topic: str  # the pruned event's topic

"""Decoding streams for the projectors: which fold a topic needs, and folding a stream."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any

from scripts_es.domain import execution, script
from scripts_es.domain.events import DomainEvent, ScriptEvent
from scripts_es.store.event_store import Fold
from scripts_es.store.mapper import resolve_topic


@cache
def is_script_topic(topic: str) -> bool:
    return issubclass(resolve_topic(topic), ScriptEvent)


def fold_for(topic: str) -> Fold:
    """The domain fold of the stream an event topic belongs to."""
    return script.fold if is_script_topic(topic) else execution.fold


def fold_stream(seed: Any, events: Sequence[DomainEvent]) -> Any:
    """Fold `events` onto `seed` (a snapshot state, or None for a stream from version 1)."""
    if not events:
        return seed
    if isinstance(events[0], ScriptEvent):
        return script.fold(events, seed)  # type: ignore[arg-type]
    return execution.fold(events, seed)  # type: ignore[arg-type]

"""Assertions shared by the unit tests."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from uuid import uuid4

import pytest

from scripts_es.domain import Script
from scripts_es.errors import InvalidInput

T = TypeVar("T")


@dataclass
class Tracked:
    """The latest instance of an aggregate plus the events it already handed to a store."""

    instance: Any
    stored: list[Any] = field(default_factory=list)

    @property
    def events(self) -> list[Any]:
        return [*self.stored, *self.instance.pending_events]

    def store(self) -> None:
        """What a repository does on save: keep the pending events, load a clean instance."""
        self.stored.extend(self.instance.pending_events)
        self.instance = self.instance.without_pending()


def call(receiver: Any, behaviour: Callable[[], T]) -> T:
    """Run a behaviour; whatever it returns or raises, its receiver must not have changed."""
    twin, dump = receiver.model_copy(deep=True), receiver.model_dump(mode="json")
    try:
        return behaviour()
    finally:
        assert receiver == twin
        assert receiver.model_dump(mode="json") == dump


def one_new_event(old: Any, new: Any, kind: type, at: Any, user: Any = None) -> Any:
    """Check `new` is `old` plus exactly one event of `kind` at the next version; return it."""
    assert new.pending_events[: len(old.pending_events)] == old.pending_events
    (event,) = new.pending_events[len(old.pending_events) :]
    assert type(event) is kind
    assert (event.originator_id, event.tenant_id, event.timestamp) == (old.id, old.tenant_id, at)
    assert event.originator_version == new.version == old.version + 1
    if user is not None:
        assert (event.user_id, new.updated_by, new.updated_at) == (user, user, at)
    return event


def rejects(field: str, make: Callable[[], object]) -> InvalidInput:
    """`make()` raises InvalidInput naming `field` (the last part of a dotted path)."""
    with pytest.raises(InvalidInput) as raised:
        make()
    assert raised.value.field.split(".")[-1] == field, raised.value.field
    return raised.value


def new_script(**fields: Any) -> Script:
    """Script.create with plain defaults for whatever the test does not care about."""
    defaults = {"name": "job", "content": "", "type": "one_off", "metadata": {}}
    return Script.create(tenant_id=uuid4(), created_by=uuid4(), **{**defaults, **fields})


def exactly_n_bytes(char: str, n: int) -> str:
    """A string of exactly `n` UTF-8 bytes, mostly made of `char`."""
    width = len(char.encode())
    return char * (n // width) + "a" * (n % width)

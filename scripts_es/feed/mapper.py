"""The feed's mapper: scripts-es events decode into their pydantic classes; anything else
(a host's own eventsourcing events) goes through the library's mapper, cipher and all."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.persistence import Cipher, Compressor, Mapper, StoredEvent, Transcoder
from pydantic import BaseModel

from scripts_es.store.mapper import PydanticMapper, resolve_topic


class FeedMapper(Mapper[UUID]):
    """Pydantic models (this module's events, the feed's EventPruned notice) are stored as
    the module stores them (JSON, never enciphered: the module reads them too)."""

    def __init__(
        self,
        transcoder: Transcoder,
        compressor: Compressor | None = None,
        cipher: Cipher | None = None,
    ) -> None:
        super().__init__(transcoder=transcoder, compressor=compressor, cipher=cipher)
        self.models = PydanticMapper()

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        if isinstance(domain_event, BaseModel):
            return self.models.to_stored_event(domain_event)
        return super().to_stored_event(domain_event)

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            cls = resolve_topic(stored_event.topic)
        except Exception:  # not importable here: the library reports it its own way
            return super().to_domain_event(stored_event)
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            return self.models.to_domain_event(stored_event)
        return super().to_domain_event(stored_event)

"""An async tenant session: the same parts as `service.session.Session`, over the async pools."""

from __future__ import annotations

from dataclasses import dataclass, field
from uuid import UUID

from scripts_es.aio.database import AsyncDatabase
from scripts_es.service.session import Positions
from scripts_es.service.steps import Context
from scripts_es.settings import Clock, Settings
from scripts_es.store.cache import AggregateCache
from scripts_es.store.event_store import EventStore


@dataclass(frozen=True)
class AsyncSession:
    """One tenant and acting user, over the module's async database, store, cache, settings."""

    db: AsyncDatabase
    store: EventStore
    cache: AggregateCache
    settings: Settings
    tenant_id: UUID
    user_id: UUID
    positions: Positions = field(default_factory=Positions)

    @property
    def clock(self) -> Clock:
        return self.settings.clock

    def context(self, *, use_cache: bool = False) -> Context:
        """What decisions made in this session may know."""
        return Context(self.tenant_id, self.user_id, self.settings.clock, use_cache)

"""A small in-process cache of aggregate states for the command path.

Safe because every append checks its stream's head under the stream's lock, and a no-op decided
on a cached state checks it too (service/transaction.py): a decision on a stale cached state
fails with a conflict before anything is recorded, and the pipeline decides it again from a
fresh load. Reads (`find_by_id`, history) never use it, and neither do states a command only
looks at without writing (a script that an execution starts from).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID


class AggregateCache:
    """Least-recently-used states keyed by (tenant_id, aggregate id)."""

    def __init__(self, size: int = 1024) -> None:
        self.size = size
        self._states: OrderedDict[tuple[UUID, UUID], Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, tenant_id: UUID, aggregate_id: UUID) -> Any | None:
        with self._lock:
            state = self._states.get((tenant_id, aggregate_id))
            if state is not None:
                self._states.move_to_end((tenant_id, aggregate_id))
            return state

    def put(self, state: Any) -> None:
        if self.size <= 0:
            return
        key = (state.tenant_id, state.id)
        with self._lock:
            known = self._states.get(key)
            if known is None or known.version <= state.version:
                self._states[key] = state
                self._states.move_to_end(key)
            while len(self._states) > self.size:
                self._states.popitem(last=False)

    def evict(self, tenant_id: UUID, aggregate_id: UUID) -> None:
        with self._lock:
            self._states.pop((tenant_id, aggregate_id), None)

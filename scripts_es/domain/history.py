"""The values of a script's history: its versions, the retention policy and a prune's result."""

from __future__ import annotations

from datetime import datetime, timedelta
from uuid import UUID

from scripts_es.domain.values import Days, Positive, Value


class VersionInfo(Value):
    version: int
    updated_at: datetime
    updated_by: UUID | None
    change: str


class VersionRetentionPolicy(Value):
    max_versions: Positive | None = None  # 1 .. PostgreSQL bigint
    retention_days: Days | None = None  # 1 .. MAX_DAYS (about 100 years)

    def horizon(self, timestamps: dict[int, datetime], current: int, now: datetime) -> int:
        """Smallest retained version among the stored ones (DESIGN §5); `current` always is."""
        floor = current - self.max_versions if self.max_versions is not None else 0
        cutoff = now - timedelta(days=self.retention_days) if self.retention_days else None
        retained = [
            version
            for version, stamp in timestamps.items()
            if version > floor and (cutoff is None or stamp >= cutoff)
        ]
        return min([*retained, current])


class PruneResult(Value):
    script_id: UUID
    horizon: int
    removed: int

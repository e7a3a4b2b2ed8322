"""DESIGN §5's retention rule read literally: the reference the retention tests check against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from scripts_es.domain import Script, VersionRetentionPolicy


def reference_horizon(
    stamps: Mapping[int, datetime], current: int, now: datetime, policy: VersionRetentionPolicy
) -> int:
    """DESIGN §5 read literally: retained iff v > c - max_versions (if set) and its event is
    not older than retention_days (if set); c is always retained; the horizon is the smallest."""
    retained = {current}
    for version, at in stamps.items():
        if policy.max_versions is not None and not version > current - policy.max_versions:
            continue
        if policy.retention_days is not None and now - at > timedelta(days=policy.retention_days):
            continue
        retained.add(version)
    return min(retained)


def stamps_of(states: Iterable[Script]) -> dict[int, datetime]:
    return {state.version: state.updated_at for state in states}

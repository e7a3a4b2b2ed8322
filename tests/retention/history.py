"""Histories for the retention tests: a script written version by version on the test's clock,
and DESIGN §5's retention rule read literally, the reference they check prunes against."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from scripts_es import TenantSession, commands
from scripts_es.domain import Script, VersionRetentionPolicy
from tests.support.clock import Clock


def script_with_versions(
    session: TenantSession,
    clock: Clock,
    count: int,
    *,
    every: timedelta = timedelta(minutes=1),
    name: str = "s",
) -> list[Script]:
    """One script with `count` versions (content "v1", "v2", ...), `every` apart; each state."""
    states = [session.handle(commands.CreateScript(name=name, content="v1", type="one_off"))]
    for v in range(2, count + 1):
        clock.advance(every)
        update = commands.UpdateScriptContent(script_id=states[0].id, content=f"v{v}")
        states.append(session.handle(update))
    return states


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

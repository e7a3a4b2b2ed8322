"""When a cron script fires (DESIGN §10): its slots, computed by cronsim in the script's zone.

A slot is an instant (UTC) at which the expression matches the wall clock of the script's time
zone. Across daylight-saving changes the module follows cronsim (the rules of Debian's cron):

- spring forward: a slot whose wall-clock time does not exist that day (02:30 when clocks jump
  from 02:00 to 03:00) fires once, at the first instant after the gap (03:00 local);
- fall back: a fixed-time slot whose wall-clock time happens twice (02:30 when clocks go back
  from 03:00 to 02:00) fires once, at its first occurrence; slots of an interval expression
  (`*/30 * * * *`) fire in both occurrences of the repeated hour.

Misfires: when slots passed with nothing firing them, `latest_missed` names the latest one and
how many earlier ones were skipped: the policy is to fire that latest slot once, and record the
count, never to replay a backlog.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5
from zoneinfo import ZoneInfo

from cronsim import CronSim

from scripts_es.domain.events import (
    DomainEvent,
    ScriptCreated,
    ScriptDeleted,
    ScriptDisabled,
    ScriptEnabled,
    ScriptMetadataChanged,
)
from scripts_es.domain.values import CronMetadata, utc

# Execution ids of cron runs: one per (tenant, script, slot), the same for every scheduler.
_FIRED = UUID("5c4e0b1e-7a43-4f0e-9d0e-2f6a3c1b8e11")
MAX_COUNTED = 10_000  # skipped slots counted at most (a minute schedule off for about a week)
SECOND = timedelta(seconds=1)
_DAY = timedelta(days=1)


def slots(schedule: CronMetadata, after: datetime) -> CronSim:
    """The slots strictly after `after` (aware), as aware datetimes in the script's zone."""
    zone = ZoneInfo(schedule.timezone)
    return CronSim(schedule.cron_expression, utc(after, "after").astimezone(zone))


def next_fire(schedule: CronMetadata, after: datetime) -> datetime:
    """The first slot strictly after `after`, as a UTC instant."""
    return next(slots(schedule, after)).astimezone(UTC)


@dataclass(frozen=True)
class DueRun:
    """A cron script whose next slot is due: fire it with FireScheduledRun(script_id,
    scheduled_for) in the tenant's session."""

    tenant_id: UUID
    script_id: UUID
    script_version: int
    scheduled_for: datetime


def is_slot(schedule: CronMetadata, instant: datetime) -> bool:
    """Whether `instant` is one of the schedule's slots."""
    return next_fire(schedule, utc(instant, "scheduled_for") - SECOND) == instant


def fired_execution_id(tenant_id: UUID, script_id: UUID, slot: datetime) -> UUID:
    """The execution id of the run of `script_id` at `slot`: every scheduler derives the same."""
    instant = utc(slot, "scheduled_for").astimezone(UTC)
    return uuid5(_FIRED, f"{tenant_id}/{script_id}/{instant.isoformat()}")


def schedule_change(events: Iterable[DomainEvent]) -> DomainEvent | None:
    """The last of `events` that (re)starts or ends a script's schedule, if any: a creation, a
    metadata change, an enable starts it (anchored at its time); a disable or delete ends it."""
    change: DomainEvent | None = None
    for event in events:
        if isinstance(
            event,
            ScriptCreated | ScriptMetadataChanged | ScriptEnabled | ScriptDisabled | ScriptDeleted,
        ):
            change = event
    return change


@dataclass(frozen=True)
class Missed:
    """The latest slot that passed unfired, and how many earlier ones the misfire skips."""

    slot: datetime
    skipped: int
    counted_all: bool  # False when more than MAX_COUNTED were skipped (skipped is a floor)


def latest_missed(schedule: CronMetadata, after: datetime, now: datetime) -> Missed | None:
    """The misfire of the slots in (`after`, `now`]: None when none passed.

    The latest slot is found backwards from `now` and then again forwards from a day before
    it, so that the forward (documented) DST rules decide; skipped slots are counted forwards
    from `after`, up to MAX_COUNTED.
    """
    after, now = utc(after, "after"), utc(now, "now")
    zone = ZoneInfo(schedule.timezone)
    backwards = CronSim(schedule.cron_expression, (now + SECOND).astimezone(zone), reverse=True)
    before_now = next(backwards, None)
    start = after if before_now is None else max(after, before_now - _DAY)
    latest: datetime | None = None
    for slot in slots(schedule, start):
        if slot > now:
            break
        latest = slot
    if latest is None:
        return None
    skipped = 0
    for slot in slots(schedule, after):
        if slot >= latest or skipped == MAX_COUNTED:
            break
        skipped += 1
    counted_all = skipped < MAX_COUNTED or slot >= latest
    return Missed(latest.astimezone(UTC), skipped, counted_all)

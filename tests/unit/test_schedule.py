"""Cron slots in the script's zone (scripts_es/domain/schedule.py), across DST, and misfires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from scripts_es.domain.schedule import MAX_COUNTED, latest_missed, next_fire
from scripts_es.domain.values import CronMetadata


def cron(expression: str, zone: str) -> CronMetadata:
    return CronMetadata(cron_expression=expression, timezone=zone)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def fires(schedule: CronMetadata, after: datetime, count: int) -> list[datetime]:
    found = []
    for _ in range(count):
        after = next_fire(schedule, after)
        found.append(after)
    return found


def test_a_slot_in_the_spring_forward_gap_fires_once_right_after_the_gap() -> None:
    # Europe/Berlin, 29 March 2026: 02:00 CET becomes 03:00 CEST; 02:30 does not exist.
    berlin = cron("30 2 * * *", "Europe/Berlin")
    assert fires(berlin, utc(2026, 3, 28, 12), 3) == [
        utc(2026, 3, 29, 1, 0),  # 03:00 CEST: the first instant after the gap
        utc(2026, 3, 30, 0, 30),  # 02:30 CEST
        utc(2026, 3, 31, 0, 30),
    ]
    # America/New_York, 8 March 2026: 02:00 EST becomes 03:00 EDT.
    new_york = cron("30 2 * * *", "America/New_York")
    assert fires(new_york, utc(2026, 3, 7, 12), 2) == [
        utc(2026, 3, 8, 7, 0),
        utc(2026, 3, 9, 6, 30),
    ]


def test_a_fixed_slot_in_the_fall_back_overlap_fires_once_at_its_first_occurrence() -> None:
    # Europe/Berlin, 25 October 2026: 03:00 CEST becomes 02:00 CET; 02:30 happens twice.
    berlin = cron("30 2 * * *", "Europe/Berlin")
    assert fires(berlin, utc(2026, 10, 24, 12), 2) == [
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST, the first occurrence; not again at 01:30 UTC
        utc(2026, 10, 26, 1, 30),  # 02:30 CET
    ]
    # America/New_York, 1 November 2026: 02:00 EDT becomes 01:00 EST; 01:30 happens twice.
    new_york = cron("30 1 * * *", "America/New_York")
    assert fires(new_york, utc(2026, 10, 31, 12), 2) == [
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 2, 6, 30),
    ]


def test_interval_slots_fire_in_both_occurrences_of_the_repeated_hour() -> None:
    berlin = cron("*/30 * * * *", "Europe/Berlin")
    assert fires(berlin, utc(2026, 10, 24, 23, 50), 4) == [
        utc(2026, 10, 25, 0, 0),  # 02:00 CEST
        utc(2026, 10, 25, 0, 30),  # 02:30 CEST
        utc(2026, 10, 25, 1, 0),  # 02:00 CET
        utc(2026, 10, 25, 1, 30),  # 02:30 CET
    ]


def test_missed_slots_fire_the_latest_once_and_count_the_rest() -> None:
    daily = cron("0 3 * * *", "UTC")
    missed = latest_missed(daily, utc(2026, 1, 1, 4), utc(2026, 1, 10, 12))
    assert missed is not None
    assert (missed.slot, missed.skipped, missed.counted_all) == (utc(2026, 1, 10, 3), 8, True)
    assert latest_missed(daily, utc(2026, 1, 1, 4), utc(2026, 1, 2, 2, 59)) is None
    exactly = latest_missed(daily, utc(2026, 1, 1, 4), utc(2026, 1, 2, 3))
    assert exactly is not None and (exactly.slot, exactly.skipped) == (utc(2026, 1, 2, 3), 0)


def test_a_very_long_outage_counts_skipped_slots_up_to_a_bound() -> None:
    minutely = cron("* * * * *", "Europe/Berlin")
    missed = latest_missed(minutely, utc(2026, 1, 1), utc(2026, 6, 1))
    assert missed is not None
    assert missed.slot == utc(2026, 6, 1)
    assert (missed.skipped, missed.counted_all) == (MAX_COUNTED, False)


EXPRESSIONS = st.sampled_from(
    ["0 3 * * *", "30 2 * * *", "*/15 * * * *", "0 */6 * * 1-5", "5 1 1 * *", "45 23 * * 0"]
)
ZONES = st.sampled_from(
    ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
)
INSTANTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
)


@given(EXPRESSIONS, ZONES, INSTANTS, st.integers(min_value=0, max_value=10 * 24 * 60))
def test_slots_are_later_monotone_and_stable_and_misfires_agree(
    expression: str, zone: str, after: datetime, minutes: int
) -> None:
    schedule = cron(expression, zone)
    first = next_fire(schedule, after)
    assert first > after and first.tzinfo is UTC
    assert next_fire(schedule, first - timedelta(seconds=1)) == first  # a slot is a fixed point
    later = after + timedelta(minutes=minutes)
    assert next_fire(schedule, later) >= first  # monotone in `after`
    missed = latest_missed(schedule, after, later)
    if first > later:
        assert missed is None
    else:
        assert missed is not None and after < missed.slot <= later
        assert next_fire(schedule, missed.slot) > later  # nothing passed after the latest

"""Cron schedules in the read model (DESIGN §10): next fire times, `due`, FireScheduledRun and
the misfire policy, with a controlled clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from cronsim import CronSim
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, ScriptType, TriggerType
from scripts_es.domain.schedule import fired_execution_id
from scripts_es.errors import InvalidInput, InvalidTransition, NotFound
from tests.support.clock import Clock
from tests.support.commands import create_command
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import raw
from tests.unit.test_schedule import EXPRESSIONS, INSTANTS, ZONES


def cron_script(t: TenantSession, expression: str, zone: str = "UTC", **kwargs: object) -> UUID:
    metadata = {"cron_expression": expression, "timezone": zone}
    return t.handle(create_command(ScriptType.CRON, metadata=metadata, **kwargs)).id


def stored_next(dsn: str, script_id: UUID) -> datetime | None:
    with raw(dsn) as conn:
        row = conn.rows(
            "SELECT next_fire_at FROM scripts_es.script_schedules WHERE script_id = %s",
            (script_id,),
        )
    return row[0][0] if row else None


def execution_count(dsn: str, script_id: UUID) -> int:
    with raw(dsn) as conn:
        query = "SELECT count(*) FROM scripts_es.executions WHERE script_id = %s"
        return int(conn.scalar(query, (script_id,)))


@pytest.fixture
def t(clocked: ScriptsModule, tenant_id: UUID, user_id: UUID) -> TenantSession:
    return clocked.tenant(tenant_id, user_id)


def test_a_cron_script_is_due_at_its_next_slot_and_fires_once(
    t: TenantSession, clock: Clock, dsn: str
) -> None:
    clock.now = datetime(2030, 1, 1, 12, 0, 10, tzinfo=UTC)
    script_id = cron_script(t, "0 * * * *")
    assert stored_next(dsn, script_id) == datetime(2030, 1, 1, 13, tzinfo=UTC)
    assert t.scripts.due(clock()) == []
    (due,) = t.scripts.due(datetime(2030, 1, 1, 13, tzinfo=UTC))
    assert (due.script_id, due.script_version) == (script_id, 1)

    clock.now = datetime(2030, 1, 1, 13, 0, 2, tzinfo=UTC)
    run = t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=due.scheduled_for))
    assert run.id == fired_execution_id(t.session.tenant_id, script_id, due.scheduled_for)
    assert (run.status, run.trigger.type, run.trigger.scheduled_for) == (
        ExecutionStatus.PENDING,
        TriggerType.CRON,
        due.scheduled_for,
    )
    # Fired again (another scheduler, a retry): the same execution, nothing new.
    again = t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=due.scheduled_for))
    assert again == run
    assert execution_count(dsn, script_id) == 1
    assert stored_next(dsn, script_id) == datetime(2030, 1, 1, 14, tzinfo=UTC)
    assert t.scripts.due(clock()) == []


def test_missed_slots_fire_the_latest_once_and_record_how_many_were_skipped(
    t: TenantSession, clock: Clock, dsn: str
) -> None:
    clock.now = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    script_id = cron_script(t, "0 * * * *")
    clock.now = datetime(2030, 1, 1, 17, 45, tzinfo=UTC)  # 13:00 … 17:00 passed unfired
    (due,) = t.scripts.due(clock())
    assert due.scheduled_for == datetime(2030, 1, 1, 13, tzinfo=UTC)  # the oldest unfired
    run = t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=due.scheduled_for))
    assert run.trigger.scheduled_for == datetime(2030, 1, 1, 17, tzinfo=UTC)
    assert run.trigger.skipped_slots == 4
    assert execution_count(dsn, script_id) == 1
    assert t.scripts.due(clock()) == []
    (later,) = t.scripts.due(clock() + timedelta(hours=1))
    assert later.scheduled_for == datetime(2030, 1, 1, 18, tzinfo=UTC)


def test_a_schedule_moves_with_its_expression_zone_and_enabled_flag(
    t: TenantSession, clock: Clock, dsn: str
) -> None:
    clock.now = datetime(2030, 3, 1, 10, tzinfo=UTC)
    script_id = cron_script(t, "0 3 * * *", "UTC")
    assert stored_next(dsn, script_id) == datetime(2030, 3, 2, 3, tzinfo=UTC)
    t.handle(
        c.ChangeScriptMetadata(
            script_id=script_id,
            metadata={"cron_expression": "0 3 * * *", "timezone": "Asia/Tokyo"},
        )
    )
    assert stored_next(dsn, script_id) == datetime(2030, 3, 1, 18, tzinfo=UTC)  # 03:00 JST
    t.handle(c.UpdateScriptContent(script_id=script_id, content="no schedule change"))
    assert stored_next(dsn, script_id) == datetime(2030, 3, 1, 18, tzinfo=UTC)

    t.handle(c.DisableScript(script_id=script_id))
    assert stored_next(dsn, script_id) is None
    assert t.scripts.due(clock() + timedelta(days=30)) == []
    clock.now = datetime(2030, 3, 10, 10, tzinfo=UTC)  # slots while disabled never fire
    t.handle(c.EnableScript(script_id=script_id))
    assert stored_next(dsn, script_id) == datetime(2030, 3, 10, 18, tzinfo=UTC)
    t.handle(c.DeleteScript(script_id=script_id))
    assert stored_next(dsn, script_id) is None


def test_firing_refuses_what_is_not_a_due_slot_and_writes_nothing(
    t: TenantSession, clock: Clock, dsn: str
) -> None:
    clock.now = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    script_id = cron_script(t, "0 * * * *")
    hook = t.handle(create_command(ScriptType.HTTP)).id
    clock.now = datetime(2030, 1, 1, 13, 30, tzinfo=UTC)
    slot = datetime(2030, 1, 1, 13, tzinfo=UTC)
    with raw(dsn) as conn:
        before = conn.row_counts()
    with pytest.raises(InvalidInput, match="not a slot"):
        t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=slot.replace(minute=5)))
    with pytest.raises(InvalidInput, match="not due yet"):
        t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=slot + timedelta(hours=1)))
    with pytest.raises(InvalidTransition, match="not due"):  # before the schedule began
        t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=slot - timedelta(hours=1)))
    with pytest.raises(InvalidInput, match="not cron"):
        t.handle(c.FireScheduledRun(script_id=hook, scheduled_for=slot))
    with pytest.raises(NotFound):
        t.handle(c.FireScheduledRun(script_id=uuid4(), scheduled_for=slot))
    with pytest.raises(InvalidInput, match="until"):
        t.scripts.due(datetime(2030, 1, 1))  # naive
    with pytest.raises(InvalidInput, match="limit"):
        t.scripts.due(clock(), limit=0)
    with raw(dsn) as conn:
        assert conn.row_counts() == before
    t.handle(c.DisableScript(script_id=script_id))
    with pytest.raises(InvalidTransition, match="disabled"):
        t.handle(c.FireScheduledRun(script_id=script_id, scheduled_for=slot))
    assert execution_count(dsn, script_id) == 0


def test_tenants_see_only_their_own_due_runs(
    clocked: ScriptsModule, clock: Clock, user_id: UUID
) -> None:
    clock.now = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    a, b = clocked.tenant(uuid4(), user_id), clocked.tenant(uuid4(), user_id)
    mine = cron_script(a, "*/10 * * * *")
    theirs = cron_script(b, "*/10 * * * *")
    until = clock() + timedelta(hours=1)
    assert [d.script_id for d in a.scripts.due(until)] == [mine]
    assert [d.script_id for d in b.scripts.due(until)] == [theirs]
    everyone = clocked.due(until)
    assert {(d.tenant_id, d.script_id) for d in everyone} == {
        (a.session.tenant_id, mine),
        (b.session.tenant_id, theirs),
    }
    with pytest.raises(NotFound):  # b cannot fire a's script, even knowing its id
        b.handle(c.FireScheduledRun(script_id=mine, scheduled_for=everyone[0].scheduled_for))


def test_rebuild_and_verify_keep_the_schedules(
    clocked: ScriptsModule, t: TenantSession, clock: Clock, dsn: str
) -> None:
    clock.now = datetime(2030, 1, 1, 12, 30, tzinfo=UTC)
    hourly = cron_script(t, "0 * * * *")
    daily = cron_script(t, "0 3 * * *", "Europe/Berlin")
    clock.now = datetime(2030, 1, 1, 15, 10, tzinfo=UTC)
    (due,) = [d for d in t.scripts.due(clock()) if d.script_id == hourly]
    t.handle(c.FireScheduledRun(script_id=hourly, scheduled_for=due.scheduled_for))
    before = {s: stored_next(dsn, s) for s in (hourly, daily)}
    assert clocked.verify_projections().ok
    clocked.rebuild_projections()
    assert {s: stored_next(dsn, s) for s in (hourly, daily)} == before
    with raw(dsn) as conn:  # a schedule drifts: verify names the table
        conn.execute(
            "UPDATE scripts_es.script_schedules SET next_fire_at = next_fire_at - interval '1 hour'"
            " WHERE script_id = %s",
            (hourly,),
        )
    report = clocked.verify_projections()
    assert not report.ok
    (drift,) = [d for d in report.tables if d.table == "script_schedules"]
    assert (drift.missing, drift.extra) == (1, 1)
    clocked.rebuild_projections()
    assert {s: stored_next(dsn, s) for s in (hourly, daily)} == before
    assert clocked.verify_projections().ok


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    schedules=st.lists(st.tuples(EXPRESSIONS, ZONES), min_size=1, max_size=6),
    at=INSTANTS,
    horizon=st.integers(min_value=0, max_value=3 * 24 * 60),
)
def test_stored_next_fire_is_the_cron_librarys_answer_and_due_is_exactly_those_before_until(
    clocked: ScriptsModule,
    clock: Clock,
    dsn: str,
    user_id: UUID,
    schedules: list[tuple[str, str]],
    at: datetime,
    horizon: int,
) -> None:
    clock.now = at
    t = clocked.tenant(uuid4(), user_id)
    expected: dict[UUID, datetime] = {}
    for expression, zone in schedules:
        script_id = cron_script(t, expression, zone)
        slots = CronSim(expression, at.astimezone(ZoneInfo(zone)))
        expected[script_id] = next(slots).astimezone(UTC)
        assert stored_next(dsn, script_id) == expected[script_id]
    until = at + timedelta(minutes=horizon)
    due = t.scripts.due(until, limit=100)
    assert {d.script_id for d in due} == {s for s, slot in expected.items() if slot <= until}
    assert [d.scheduled_for for d in due] == sorted(d.scheduled_for for d in due)
    assert all(d.scheduled_for == expected[d.script_id] for d in due)

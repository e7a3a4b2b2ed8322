"""Every command through `TenantSession.handle` against a real PostgreSQL (DESIGN §3, §4).

Round trips of every field, no-ops that write nothing, terminal executions, version history and
time travel across the automatic snapshots, deleted and disabled scripts. What the repositories
promise on their own is their contract (tests/support/conformance, run by
test_repository_conformance.py).
"""

from __future__ import annotations

import inspect
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import orjson
import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import (
    CronMetadata,
    Execution,
    ExecutionResult,
    ExecutionStatus,
    ExecutionTrigger,
    LogEntry,
    Script,
    ScriptType,
    TriggerType,
)
from scripts_es.domain import events as ev
from scripts_es.errors import InvalidTransition, NotFound
from tests.support.clock import Clock
from tests.support.commands import METADATA, create_command
from tests.support.conformance import (
    CONTENT,
    DESCRIPTION,
    EXPECTED_METADATA,
    assert_execution_reads_back,
    assert_reads_back,
    fields,
)
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import raw, row_counts, snapshot_versions

HANDLED_COMMANDS = {
    cls
    for _, cls in inspect.getmembers(c, inspect.isclass)
    if issubclass(cls, c.Command) and cls is not c.Command and cls is not c.PruneScriptHistory
}


@pytest.fixture
def timed(module: ScriptsModule, clock: Clock, tenant_id: UUID, user_id: UUID) -> TenantSession:
    """The tenant session, on a clock that only moves when the test says so."""
    return module.with_clock(clock).tenant(tenant_id, user_id)


# -- Script round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("type_", list(ScriptType))
def test_a_script_of_every_type_round_trips_every_field_through_handle(
    timed: TenantSession, clock: Clock, tenant_id: UUID, user_id: UUID, type_: ScriptType
) -> None:
    script_id = uuid4()
    created = timed.handle(
        create_command(
            type_,
            name="\tNightly report ",
            content=CONTENT,
            description=DESCRIPTION,
            tags=["B", "a", " b "],
            script_id=script_id,
        )
    )
    assert fields(created) == {
        "id": script_id,
        "tenant_id": tenant_id,
        "name": "Nightly report",
        "description": DESCRIPTION,
        "content": CONTENT,
        "type": type_,
        "version": 1,
        "is_enabled": True,
        "metadata": EXPECTED_METADATA[type_].model_dump(),
        "tags": ("b", "a"),
        "created_at": clock(),
        "updated_at": clock(),
        "created_by": user_id,
        "updated_by": user_id,
        "is_deleted": False,
    }
    assert_reads_back(timed, created)


def test_a_change_that_changes_nothing_writes_nothing(
    timed: TenantSession, dsn: str, user_id: UUID
) -> None:
    script = timed.handle(create_command(ScriptType.CRON, tags=["a"]))
    before = row_counts(dsn)
    same = [
        c.UpdateScriptContent(script_id=script.id, content=script.content),
        c.ChangeScriptMetadata(script_id=script.id, metadata=METADATA[ScriptType.CRON]),
        c.ChangeScriptDetails(script_id=script.id, name=script.name, tags=["A"]),
        c.EnableScript(script_id=script.id),
    ]
    for command in same:
        assert timed.handle(command) == script
    assert timed.scripts.update(script.update_content(script.content, user_id)) == script
    assert row_counts(dsn) == before
    assert timed.scripts.find_by_id(script.id) == script


# -- every command through handle ---------------------------------------------------------------


def test_every_command_round_trips_through_handle(
    timed: TenantSession, clock: Clock, dsn: str, user_id: UUID
) -> None:
    seen: set[type[c.Command]] = set()

    def handle(command: c.Command) -> Any:
        seen.add(type(command))
        clock.advance(timedelta(milliseconds=1500))
        return timed.handle(command)

    script = handle(create_command(ScriptType.CRON, tags=["web"]))
    assert_reads_back(timed, script)

    updated = handle(c.UpdateScriptContent(script_id=script.id, content="new body"))
    assert (updated.version, updated.content, updated.updated_at) == (2, "new body", clock())
    assert_reads_back(timed, updated)
    with raw(dsn) as conn:
        (state,) = conn.execute(
            "SELECT state FROM scripts_es.events WHERE originator_id = %s"
            " AND originator_version = 2",
            (script.id,),
        ).fetchone()
    payload = orjson.loads(state)
    assert (payload["old_version"], payload["new_version"]) == (1, 2)

    moved = handle(
        c.ChangeScriptMetadata(
            script_id=script.id, metadata={"cron_expression": "0 4 * * 0", "timezone": "Asia/Tokyo"}
        )
    )
    assert moved.metadata == CronMetadata(cron_expression="0 4 * * 0", timezone="Asia/Tokyo")
    assert moved.version == 3
    assert_reads_back(timed, moved)

    renamed = handle(c.ChangeScriptDetails(script_id=script.id, name="renamed"))
    assert (renamed.name, renamed.description, renamed.tags) == ("renamed", "", ("web",))
    described = handle(
        c.ChangeScriptDetails(script_id=script.id, description="about", tags=["Z", "z", "y"])
    )
    assert (described.name, described.description, described.tags) == (
        "renamed",
        "about",
        ("z", "y"),
    )
    assert_reads_back(timed, described)

    disabled = handle(c.DisableScript(script_id=script.id))
    assert not disabled.is_enabled and disabled.version == 6
    assert_reads_back(timed, disabled)
    enabled = handle(c.EnableScript(script_id=script.id))
    assert enabled.is_enabled and enabled.version == 7
    assert_reads_back(timed, enabled)

    # An execution started directly, completed with a result and logs.
    trigger = {"type": "manual", "triggered_by": str(user_id)}
    payload_in = {"order": {"id": 7, "lines": [1, 2.5, "x", None, True]}, "ü": "ß"}
    started = handle(c.StartExecution(script_id=script.id, trigger=trigger, input=payload_in))
    assert (started.status, started.script_version, started.started_at) == (
        ExecutionStatus.RUNNING,
        7,
        clock(),
    )
    assert started.trigger == ExecutionTrigger(type=TriggerType.MANUAL, triggered_by=user_id)
    assert (started.input, started.duration, started.completed_at) == (
        payload_in,
        timedelta(0),
        None,
    )
    assert_execution_reads_back(timed, started)
    logs = [
        {"timestamp": clock().isoformat(), "level": "info", "message": "begin ✓"},
        {"timestamp": clock().isoformat(), "level": "error", "message": "boom\nline 2"},
    ]
    done = handle(
        c.CompleteExecution(
            execution_id=started.id,
            status="completed",
            result={"output": "42", "error": "warn", "logs": logs},
        )
    )
    assert (done.status, done.completed_at, done.duration) == (
        ExecutionStatus.COMPLETED,
        clock(),
        timedelta(milliseconds=1500),
    )
    assert done.result == ExecutionResult(
        output="42",
        error="warn",
        logs=(
            LogEntry(
                timestamp=clock() - timedelta(milliseconds=1500), level="info", message="begin ✓"
            ),
            LogEntry(
                timestamp=clock() - timedelta(milliseconds=1500),
                level="error",
                message="boom\nline 2",
            ),
        ),
    )
    assert_execution_reads_back(timed, done)

    # A queued execution: pending, then running, then timed out.
    queued = handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "cron"}))
    assert (queued.status, queued.started_at, queued.input) == (ExecutionStatus.PENDING, None, {})
    assert queued.trigger == ExecutionTrigger(type=TriggerType.CRON)
    assert_execution_reads_back(timed, queued)
    begun = handle(c.BeginExecution(execution_id=queued.id))
    assert (begun.status, begun.started_at, begun.version) == (ExecutionStatus.RUNNING, clock(), 2)
    assert_execution_reads_back(timed, begun)
    timed_out = handle(c.CompleteExecution(execution_id=queued.id, status="timeout"))
    assert (timed_out.status, timed_out.duration) == (
        ExecutionStatus.TIMEOUT,
        timedelta(seconds=1.5),
    )
    assert timed_out.result == ExecutionResult()
    assert_execution_reads_back(timed, timed_out)

    # Completed straight from pending: no start time, zero duration.
    waiting = handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}, input={}))
    failed = handle(
        c.CompleteExecution(execution_id=waiting.id, status="failed", result={"error": "gave up"})
    )
    assert (failed.status, failed.started_at, failed.duration) == (
        ExecutionStatus.FAILED,
        None,
        timedelta(0),
    )
    assert failed.result == ExecutionResult(error="gave up")
    assert_execution_reads_back(timed, failed)

    # A cron slot fired: one pending execution for the slot, the schedule moved past it.
    (due,) = timed.scripts.due(clock() + timedelta(days=8))
    assert (due.script_id, due.script_version) == (script.id, 7)
    clock.now = due.scheduled_for + timedelta(seconds=30) - timedelta(milliseconds=1500)
    fired = handle(c.FireScheduledRun(script_id=script.id, scheduled_for=due.scheduled_for))
    assert (fired.status, fired.trigger.type, fired.trigger.scheduled_for) == (
        ExecutionStatus.PENDING,
        TriggerType.CRON,
        due.scheduled_for,
    )
    assert (fired.queued_at, fired.trigger.skipped_slots) == (clock(), 0)
    assert_execution_reads_back(timed, fired)
    assert timed.scripts.due(clock()) == []

    deleted = handle(c.DeleteScript(script_id=script.id))
    assert deleted.is_deleted and deleted.version == 8
    assert timed.scripts.due(clock() + timedelta(days=800)) == []
    with pytest.raises(NotFound):
        timed.scripts.find_by_id(script.id)

    assert seen == HANDLED_COMMANDS, "every command of scripts_es.commands must be exercised"


# -- executions through handle ----------------------------------------------------------------


def test_a_completed_execution_never_has_a_negative_duration(
    timed: TenantSession, clock: Clock
) -> None:
    script = timed.handle(create_command())
    started = timed.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    clock.advance(timedelta(seconds=-5))  # the host's clock stepped back (NTP)
    done = timed.handle(c.CompleteExecution(execution_id=started.id, status="completed"))
    assert done.duration == timedelta(0)
    assert timed.executions.find_by_id(started.id).duration == timedelta(0)


def test_terminal_executions_refuse_further_transitions_and_nothing_is_written(
    timed: TenantSession, dsn: str
) -> None:
    script = timed.handle(create_command())
    running = timed.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    done = timed.handle(c.CompleteExecution(execution_id=running.id, status="completed"))
    before = row_counts(dsn)
    with pytest.raises(InvalidTransition):
        timed.handle(c.BeginExecution(execution_id=running.id))
    for status in ("completed", "failed", "timeout"):
        with pytest.raises(InvalidTransition):
            timed.handle(c.CompleteExecution(execution_id=running.id, status=status))
    with pytest.raises(InvalidTransition):
        timed.executions.update(done.complete("failed"))
    assert row_counts(dsn) == before
    assert timed.executions.find_by_id(running.id) == done


def test_a_running_execution_cannot_begin_again(timed: TenantSession) -> None:
    script = timed.handle(create_command())
    running = timed.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    with pytest.raises(InvalidTransition):
        timed.handle(c.BeginExecution(execution_id=running.id))
    assert timed.executions.find_by_id(running.id) == running


# -- version history and time travel ------------------------------------------------------------


def _twenty_five_versions(t: TenantSession, clock: Clock) -> list[Script]:
    """A script with 25 versions made of every kind of change; the state after each."""
    states = [t.handle(create_command(ScriptType.HTTP, name="v1", tags=["t0"]))]
    sid = states[0].id
    for v in range(2, 26):
        clock.advance(timedelta(seconds=v))
        kind = v % 5
        if kind == 0:
            command: c.Command = c.ChangeScriptMetadata(
                script_id=sid, metadata={"path": f"/route/{v}", "method": "PATCH"}
            )
        elif kind == 1:
            command = c.ChangeScriptDetails(script_id=sid, name=f"v{v}", tags=[f"t{v}"])
        elif kind == 2:
            command = c.DisableScript(script_id=sid)
        elif kind == 3:
            command = c.EnableScript(script_id=sid)
        else:
            command = c.UpdateScriptContent(script_id=sid, content=f"content at {v}")
        states.append(t.handle(command))
        assert states[-1].version == v
    return states


def test_version_history_lists_every_change_in_order_with_its_event_name(
    timed: TenantSession, clock: Clock, user_id: UUID
) -> None:
    states = _twenty_five_versions(timed, clock)
    history = timed.scripts.get_version_history(states[0].id)
    assert [h.version for h in history] == list(range(1, 26))
    expected_changes = ["ScriptCreated"] + [
        {
            0: "ScriptMetadataChanged",
            1: "ScriptDetailsChanged",
            2: "ScriptDisabled",
            3: "ScriptEnabled",
            4: "ScriptContentUpdated",
        }[v % 5]
        for v in range(2, 26)
    ]
    assert [h.change for h in history] == expected_changes
    event_names = {cls.__name__ for cls in ev.SCRIPT_EVENTS}
    assert {h.change for h in history} <= event_names
    assert [h.updated_at for h in history] == [s.updated_at for s in states]
    assert {h.updated_by for h in history} == {user_id}


def test_time_travel_returns_the_state_right_after_each_change_across_snapshots(
    timed: TenantSession, clock: Clock, dsn: str
) -> None:
    states = _twenty_five_versions(timed, clock)
    sid = states[0].id
    assert snapshot_versions(dsn, sid) == [10, 20], "snapshot_every=10 should have snapshotted"
    for state in states:
        assert timed.scripts.get_version(sid, state.version) == state
    assert timed.scripts.find_by_id(sid) == states[-1]
    # Snapshots are a cache: without them, the fold from the events gives the same states.
    with raw(dsn) as conn:
        conn.execute("DELETE FROM scripts_es.snapshots WHERE originator_id = %s", (sid,))
    for state in states:
        assert timed.scripts.get_version(sid, state.version) == state
    assert timed.scripts.find_by_id(sid) == states[-1]


# -- delete ------------------------------------------------------------------------------------


SCRIPT_COMMANDS_ON: list[Any] = [
    lambda sid: c.UpdateScriptContent(script_id=sid, content="again"),
    lambda sid: c.ChangeScriptMetadata(script_id=sid, metadata={"path": "/other"}),
    lambda sid: c.ChangeScriptDetails(script_id=sid, name="again"),
    lambda sid: c.EnableScript(script_id=sid),
    lambda sid: c.DisableScript(script_id=sid),
    lambda sid: c.DeleteScript(script_id=sid),
    lambda sid: c.StartExecution(script_id=sid, trigger={"type": "api"}),
    lambda sid: c.EnqueueExecution(script_id=sid, trigger={"type": "api"}),
]


@pytest.mark.parametrize("command", SCRIPT_COMMANDS_ON)
def test_every_command_on_a_deleted_script_is_not_found_and_writes_nothing(
    timed: TenantSession, dsn: str, command: Any
) -> None:
    script = timed.handle(create_command(ScriptType.HTTP))
    timed.handle(c.DeleteScript(script_id=script.id))
    before = row_counts(dsn)
    with pytest.raises(NotFound) as error:
        timed.handle(command(script.id))
    assert error.value.id == script.id
    with pytest.raises(NotFound):
        timed.scripts.delete(script.id)
    assert row_counts(dsn) == before


# -- disabled scripts ----------------------------------------------------------------------------


def test_a_disabled_script_cannot_start_or_enqueue_executions(
    timed: TenantSession, dsn: str
) -> None:
    script = timed.handle(create_command(ScriptType.CRON))
    disabled = timed.handle(c.DisableScript(script_id=script.id))
    before = row_counts(dsn)
    with pytest.raises(InvalidTransition):
        timed.handle(c.StartExecution(script_id=script.id, trigger={"type": "cron"}))
    with pytest.raises(InvalidTransition):
        timed.handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "cron"}))
    with pytest.raises(InvalidTransition):
        timed.executions.create(Execution.start(script=disabled, trigger={"type": "cron"}))
    assert row_counts(dsn) == before
    assert timed.executions.find_for_script(script.id) == []
    timed.handle(c.EnableScript(script_id=script.id))
    ran = timed.handle(c.StartExecution(script_id=script.id, trigger={"type": "cron"}))
    assert ran.script_version == 3

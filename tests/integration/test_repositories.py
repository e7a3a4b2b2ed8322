"""Conformance of the repositories and command handlers against a real PostgreSQL (DESIGN §3, §4).

Round trips of every field of Script and Execution, version history, time travel across the
automatic snapshot boundary, delete semantics and disabled scripts.
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
    EmbeddedMetadata,
    Execution,
    ExecutionResult,
    ExecutionStatus,
    ExecutionTrigger,
    HTTPMetadata,
    LogEntry,
    OneOffMetadata,
    Script,
    ScriptType,
    TriggerType,
)
from scripts_es.domain import events as ev
from scripts_es.errors import ConcurrencyConflict, InvalidTransition, NotFound
from scripts_es.queries import ScriptFindParams
from tests.support.clock import Clock
from tests.support.commands import METADATA, create_command
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import raw, row_counts, snapshot_versions, stream_versions

CONTENT = "#!/bin/sh\necho 'ünïcödé ✓ 🚀'\n\ttabbed\r\nlast line"
DESCRIPTION = "Sends the nightly report.\nTwice, with 100% of the _data_ \\ escaped."
EXPECTED_METADATA: dict[ScriptType, Any] = {
    ScriptType.CRON: CronMetadata(cron_expression="*/5 * * * 1-5", timezone="Europe/Berlin"),
    ScriptType.HTTP: HTTPMetadata(path="/hooks/orders", method="POST"),
    ScriptType.ONE_OFF: OneOffMetadata(),
    ScriptType.EMBEDDED: EmbeddedMetadata(),
}
HANDLED_COMMANDS = {
    cls
    for _, cls in inspect.getmembers(c, inspect.isclass)
    if issubclass(cls, c.Command) and cls is not c.Command and cls is not c.PruneScriptHistory
}


@pytest.fixture
def timed(module: ScriptsModule, clock: Clock, tenant_id: UUID, user_id: UUID) -> TenantSession:
    """The tenant session, on a clock that only moves when the test says so."""
    return module.with_clock(clock).tenant(tenant_id, user_id)


def fields(script: Script) -> dict[str, Any]:
    return script.model_dump(exclude={"pending_events"})


def assert_reads_back(t: TenantSession, script: Script) -> None:
    """Every read path returns exactly `script` (event store and read model alike)."""
    assert script.pending_events == ()
    assert t.scripts.find_by_id(script.id) == script
    assert t.scripts.get_version(script.id, script.version) == script
    found = [s for s in t.scripts.find(ScriptFindParams(limit=1000)) if s.id == script.id]
    assert found == [script]


def assert_execution_reads_back(t: TenantSession, execution: Execution) -> None:
    assert execution.pending_events == ()
    assert t.executions.find_by_id(execution.id) == execution
    found = [e for e in t.executions.find_for_script(execution.script_id) if e.id == execution.id]
    assert found == [execution]


# -- Script round trips --------------------------------------------------------------------------


@pytest.mark.parametrize("type_", list(ScriptType))
def test_a_script_of_every_type_round_trips_every_field_through_the_repository(
    timed: TenantSession, clock: Clock, tenant_id: UUID, user_id: UUID, type_: ScriptType
) -> None:
    new = Script.create(
        tenant_id=tenant_id,
        created_by=user_id,
        name="  Nightly report  ",
        content=CONTENT,
        type=type_,
        metadata=METADATA[type_],
        description=DESCRIPTION,
        tags=[" Ops", "ops", "Reports ", "ÜBER"],
        at=clock(),
    )
    stored = timed.scripts.create(new)
    assert fields(stored) == {
        "id": new.id,
        "tenant_id": tenant_id,
        "name": "Nightly report",
        "description": DESCRIPTION,
        "content": CONTENT,
        "type": type_,
        "version": 1,
        "is_enabled": True,
        "metadata": EXPECTED_METADATA[type_].model_dump(),
        "tags": ("ops", "reports", "über"),
        "created_at": clock(),
        "updated_at": clock(),
        "created_by": user_id,
        "updated_by": user_id,
        "is_deleted": False,
    }
    assert stored.metadata == EXPECTED_METADATA[type_]
    assert_reads_back(timed, stored)


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


def test_every_script_change_round_trips_through_the_repository(
    module: ScriptsModule, timed: TenantSession, clock: Clock, tenant_id: UUID, user_id: UUID
) -> None:
    editor = uuid4()
    script = timed.scripts.create(
        Script.create(
            tenant_id=tenant_id,
            created_by=user_id,
            name="job",
            content="v1",
            type=ScriptType.CRON,
            metadata={"cron_expression": "0 * * * *"},
            at=clock(),
        )
    )
    created_at = script.created_at
    changes = [
        lambda s, at: s.update_content("v2 ✓", editor, at=at),
        lambda s, at: s.change_metadata(
            CronMetadata(cron_expression="15 3 * * 0", timezone="America/New_York"), editor, at=at
        ),
        lambda s, at: s.change_details(
            by_user=editor, name="renamed", description="now described", tags=["X", "y"], at=at
        ),
        lambda s, at: s.change_details(by_user=editor, tags=[], at=at),
        lambda s, at: s.disable(editor, at=at),
        lambda s, at: s.enable(editor, at=at),
    ]
    for change in changes:
        at = clock.advance(timedelta(seconds=1))
        expected = change(script, at)
        assert len(expected.pending_events) == 1
        script = timed.scripts.update(expected)
        assert script == expected.without_pending()
        assert (script.updated_at, script.updated_by, script.created_at) == (at, editor, created_at)
        assert script.created_by == user_id
        assert_reads_back(timed, script)
    assert (script.version, script.content, script.name, script.tags) == (7, "v2 ✓", "renamed", ())
    assert script.metadata == CronMetadata(
        cron_expression="15 3 * * 0", timezone="America/New_York"
    )
    assert script.description == "now described" and script.is_enabled
    # The same state read by a module that never saw these writes (no cache in between).
    with ScriptsModule.open(module.db.dsn, install=False) as fresh:
        assert fresh.tenant(tenant_id, user_id).scripts.find_by_id(script.id) == script


def test_several_pending_changes_are_stored_by_one_update(
    timed: TenantSession, clock: Clock, user_id: UUID
) -> None:
    script = timed.handle(create_command(ScriptType.ONE_OFF))
    at = clock.advance(timedelta(minutes=1))
    changed = script.update_content("two", user_id, at=at).disable(user_id, at=at)
    stored = timed.scripts.update(changed)
    assert stored.version == 3 and not stored.is_enabled and stored.content == "two"
    assert_reads_back(timed, stored)
    assert [v.change for v in timed.scripts.get_version_history(script.id)] == [
        "ScriptCreated",
        "ScriptContentUpdated",
        "ScriptDisabled",
    ]


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

    deleted = handle(c.DeleteScript(script_id=script.id))
    assert deleted.is_deleted and deleted.version == 8
    with pytest.raises(NotFound):
        timed.scripts.find_by_id(script.id)

    assert seen == HANDLED_COMMANDS, "every command of scripts_es.commands must be exercised"


# -- Execution round trips through the repository ----------------------------------------------


def test_an_execution_round_trips_every_field_through_the_repository(
    timed: TenantSession, clock: Clock, user_id: UUID
) -> None:
    script = timed.handle(create_command(ScriptType.EMBEDDED))
    payload = {"nested": {"deep": [{"k": "v"}, [], {}]}, "n": -(2**63), "f": 0.1, "t": "\u2028"}
    new = Execution.start(
        script=script,
        trigger=ExecutionTrigger(type=TriggerType.MANUAL, triggered_by=user_id),
        input=payload,
        at=clock(),
    )
    started = timed.executions.create(new)
    assert started == new.without_pending()
    assert (started.tenant_id, started.script_id, started.script_version) == (
        script.tenant_id,
        script.id,
        1,
    )
    assert (started.status, started.input, started.started_at) == (
        ExecutionStatus.RUNNING,
        payload,
        clock(),
    )
    assert_execution_reads_back(timed, started)

    end = clock.advance(timedelta(hours=2, microseconds=7))
    result = ExecutionResult(
        output="o" * 1000,
        error="e",
        logs=tuple(
            LogEntry(timestamp=end - timedelta(seconds=i), level=level, message=f"line {i}")
            for i, level in enumerate(["debug", "info", "warning", "error"])
        ),
    )
    done = timed.executions.update(started.complete(ExecutionStatus.FAILED, result, at=end))
    assert (done.status, done.result, done.completed_at, done.duration, done.version) == (
        ExecutionStatus.FAILED,
        result,
        end,
        timedelta(hours=2, microseconds=7),
        2,
    )
    assert_execution_reads_back(timed, done)


def test_a_large_float_in_an_input_reads_back_unchanged_from_the_read_model(
    timed: TenantSession,
) -> None:
    script = timed.handle(create_command())
    payload = {"big": 4.745852742554271e16, "huge": 1.5e300, "ok": 0.1}
    started = timed.handle(
        c.StartExecution(script_id=script.id, trigger={"type": "api"}, input=payload)
    )
    assert timed.executions.find_by_id(started.id).input == payload
    (found,) = timed.executions.find_for_script(script.id)
    assert found.input == payload
    assert all(isinstance(v, float) for v in found.input.values())


def test_a_queued_execution_round_trips_through_the_repository(
    timed: TenantSession, clock: Clock
) -> None:
    script = timed.handle(create_command(ScriptType.CRON))
    queued = timed.executions.create(
        Execution.enqueue(script=script, trigger={"type": "cron"}, at=clock())
    )
    assert (queued.status, queued.started_at, queued.duration) == (
        ExecutionStatus.PENDING,
        None,
        timedelta(0),
    )
    assert_execution_reads_back(timed, queued)
    begin_at = clock.advance(timedelta(seconds=30))
    running = timed.executions.update(queued.begin(at=begin_at))
    assert (running.status, running.started_at) == (ExecutionStatus.RUNNING, begin_at)
    assert_execution_reads_back(timed, running)
    end = clock.advance(timedelta(seconds=3))
    done = timed.executions.update(running.complete("completed", {"output": "ok"}, at=end))
    assert (done.status, done.duration, done.result) == (
        ExecutionStatus.COMPLETED,
        timedelta(seconds=3),
        ExecutionResult(output="ok"),
    )
    assert_execution_reads_back(timed, done)


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


def test_time_travel_through_the_repository_across_a_multi_event_snapshot_boundary(
    timed: TenantSession, clock: Clock, tenant_id: UUID, user_id: UUID, dsn: str
) -> None:
    script = timed.scripts.create(
        Script.create(
            tenant_id=tenant_id,
            created_by=user_id,
            name="repo",
            content="c1",
            type="one_off",
            metadata={},
            at=clock(),
        )
    )
    states = [script]
    while states[-1].version < 24:
        at = clock.advance(timedelta(seconds=1))
        current = states[-1]
        if current.version in (8, 18):  # two events in one append, across 10 and 20
            mid = current.update_content(f"c{current.version + 1}", user_id, at=at)
            both = mid.change_details(by_user=user_id, name=f"n{current.version + 2}", at=at)
            assert len(both.pending_events) == 2
            states += [mid.without_pending(), timed.scripts.update(both)]
        else:
            content = f"c{current.version + 1}"
            states.append(timed.scripts.update(current.update_content(content, user_id, at=at)))
    sid = script.id
    assert [s.version for s in states] == list(range(1, 25))
    assert stream_versions(dsn, sid) == list(range(1, 25))
    assert snapshot_versions(dsn, sid), "an automatic snapshot was expected"
    for state in states:
        assert timed.scripts.get_version(sid, state.version) == state
    assert [h.version for h in timed.scripts.get_version_history(sid)] == list(range(1, 25))


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


def test_a_deleted_script_is_gone_from_every_read_but_its_executions_stay(
    timed: TenantSession, dsn: str
) -> None:
    keep = timed.handle(create_command(ScriptType.ONE_OFF, name="keep", tags=["x"]))
    doomed = timed.handle(create_command(ScriptType.HTTP, name="doomed", tags=["x"]))
    running = timed.handle(c.StartExecution(script_id=doomed.id, trigger={"type": "api"}))
    finished = timed.handle(c.StartExecution(script_id=doomed.id, trigger={"type": "api"}))
    finished = timed.handle(c.CompleteExecution(execution_id=finished.id, status="completed"))
    assert timed.scripts.count() == 2

    timed.scripts.delete(doomed.id)

    with pytest.raises(NotFound):
        timed.scripts.find_by_id(doomed.id)
    with pytest.raises(NotFound):
        timed.scripts.get_version_history(doomed.id)
    with pytest.raises(NotFound):
        timed.scripts.get_version(doomed.id, 1)
    assert timed.scripts.find() == [keep]
    assert timed.scripts.count() == 1
    for params in (
        ScriptFindParams(type=ScriptType.HTTP),
        ScriptFindParams(search="doomed"),
        ScriptFindParams(tags_any=("x",)),
        ScriptFindParams(enabled=True),
    ):
        assert [s.id for s in timed.scripts.find(params)] in ([], [keep.id])
        assert doomed.id not in {s.id for s in timed.scripts.find(params)}
        assert timed.scripts.count(params) == len(timed.scripts.find(params))
    assert timed.executions.find_by_id(running.id) == running
    assert timed.executions.find_by_id(finished.id) == finished
    assert stream_versions(dsn, doomed.id) == [1, 2]


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


def test_a_stale_copy_of_a_deleted_script_cannot_be_stored(
    timed: TenantSession, dsn: str, user_id: UUID
) -> None:
    script = timed.handle(create_command())
    timed.scripts.delete(script.id)
    before = row_counts(dsn)
    # Optimistic concurrency catches it (the stream moved); a reload then says NotFound.
    with pytest.raises((NotFound, ConcurrencyConflict)):
        timed.scripts.update(script.update_content("zombie", user_id))
    assert row_counts(dsn) == before
    with pytest.raises(NotFound):
        timed.scripts.find_by_id(script.id)


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


def test_the_repository_refuses_an_execution_of_a_script_disabled_since_it_was_loaded(
    timed: TenantSession, dsn: str
) -> None:
    script = timed.handle(create_command())
    stale = timed.scripts.find_by_id(script.id)
    timed.handle(c.DisableScript(script_id=script.id))
    before = row_counts(dsn)
    with pytest.raises(InvalidTransition):
        timed.executions.create(Execution.start(script=stale, trigger={"type": "api"}))
    assert row_counts(dsn) == before

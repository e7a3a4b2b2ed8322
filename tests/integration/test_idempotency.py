"""`command_id` idempotency and `expected_version` optimistic concurrency (DESIGN §4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import DueRun, Execution, Script, ScriptType
from scripts_es.errors import ConcurrencyConflict, Conflict, InvalidInput, InvalidTransition
from tests.integration.races import errors_of, race, race_past_the_command_log, values_of
from tests.support.clock import Clock
from tests.support.commands import create_command
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import row_counts, stream_versions


@dataclass
class World:
    """A script (cron, version 2), a running and a pending execution of it, a disabled script,
    and the script's first slot, due."""

    script: Script
    running: Execution
    pending: Execution
    disabled: Script
    due: DueRun


@pytest.fixture
def tenant(clocked: ScriptsModule, tenant_id: UUID, user_id: UUID) -> TenantSession:
    return clocked.tenant(tenant_id, user_id)


@pytest.fixture
def world(tenant: TenantSession, clock: Clock) -> World:
    script = tenant.handle(create_command(ScriptType.CRON))
    script = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="v2"))
    running = tenant.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    pending = tenant.handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}))
    disabled = tenant.handle(create_command(ScriptType.EMBEDDED, name="off"))
    disabled = tenant.handle(c.DisableScript(script_id=disabled.id))
    (due,) = tenant.scripts.due(clock() + timedelta(days=7))
    clock.now = due.scheduled_for
    return World(script, running, pending, disabled, due)


# Every command, built against `world`: (name, build(world, **extra) -> command, target stream).
CommandCase = tuple[str, Callable[..., c.Command], Callable[[World, Any], UUID]]
SCRIPT = lambda w, result: w.script.id  # noqa: E731
RESULT = lambda w, result: result.id  # noqa: E731
RUNNING = lambda w, result: w.running.id  # noqa: E731
PENDING = lambda w, result: w.pending.id  # noqa: E731
DISABLED = lambda w, result: w.disabled.id  # noqa: E731

COMMANDS: list[CommandCase] = [
    ("CreateScript", lambda w, **k: create_command(ScriptType.CRON, **k), RESULT),
    (
        "UpdateScriptContent",
        lambda w, **k: c.UpdateScriptContent(script_id=w.script.id, content="v3", **k),
        SCRIPT,
    ),
    (
        "ChangeScriptMetadata",
        lambda w, **k: c.ChangeScriptMetadata(
            script_id=w.script.id, metadata={"cron_expression": "5 4 * * *"}, **k
        ),
        SCRIPT,
    ),
    (
        "ChangeScriptDetails",
        lambda w, **k: c.ChangeScriptDetails(script_id=w.script.id, name="renamed", **k),
        SCRIPT,
    ),
    ("DisableScript", lambda w, **k: c.DisableScript(script_id=w.script.id, **k), SCRIPT),
    ("EnableScript", lambda w, **k: c.EnableScript(script_id=w.disabled.id, **k), DISABLED),
    ("DeleteScript", lambda w, **k: c.DeleteScript(script_id=w.script.id, **k), SCRIPT),
    (
        "StartExecution",
        lambda w, **k: c.StartExecution(script_id=w.script.id, trigger={"type": "api"}, **k),
        RESULT,
    ),
    (
        "EnqueueExecution",
        lambda w, **k: c.EnqueueExecution(script_id=w.script.id, trigger={"type": "cron"}, **k),
        RESULT,
    ),
    (
        "FireScheduledRun",
        lambda w, **k: c.FireScheduledRun(
            script_id=w.script.id, scheduled_for=w.due.scheduled_for, **k
        ),
        RESULT,
    ),
    ("BeginExecution", lambda w, **k: c.BeginExecution(execution_id=w.pending.id, **k), PENDING),
    (
        "CompleteExecution",
        lambda w, **k: c.CompleteExecution(
            execution_id=w.running.id, status="completed", result={"output": "x"}, **k
        ),
        RUNNING,
    ),
]
IDS = [name for name, _, _ in COMMANDS]


def _all_commands(cls: type[c.Command] = c.Command) -> set[str]:
    subclasses = cls.__subclasses__()
    return {s.__name__ for s in subclasses}.union(*(_all_commands(s) for s in subclasses))


def test_the_idempotency_cases_cover_every_command() -> None:
    assert _all_commands() - {"PruneScriptHistory"} == set(IDS)


# -- command_id -----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "build", "stream"), COMMANDS, ids=IDS)
def test_the_same_command_id_twice_is_applied_once_with_the_same_result(
    tenant: TenantSession, world: World, dsn: str, name: str, build: Any, stream: Any
) -> None:
    command = build(world, command_id=uuid4())
    first = tenant.handle(command)
    target = stream(world, first)
    versions = stream_versions(dsn, target)
    counts = row_counts(dsn)

    again = tenant.handle(command)
    assert again == first
    assert type(again) is type(first)
    assert stream_versions(dsn, target) == versions
    assert row_counts(dsn) == counts
    # An equal command with a fresh command_id is not a replay: it is decided anew.
    if name in ("CreateScript", "StartExecution", "EnqueueExecution"):
        other = tenant.handle(build(world, command_id=uuid4()))
        assert other.id != first.id
    if name == "FireScheduledRun":  # a slot fires once, whatever the command_id
        assert tenant.handle(build(world, command_id=uuid4())) == first


def test_a_replayed_command_shows_one_change_in_the_version_history(
    tenant: TenantSession, world: World
) -> None:
    command = c.ChangeScriptDetails(script_id=world.script.id, name="once", command_id=uuid4())
    for _ in range(3):
        tenant.handle(command)
    history = tenant.scripts.get_version_history(world.script.id)
    assert [h.change for h in history].count("ScriptDetailsChanged") == 1
    assert [h.version for h in history] == [1, 2, 3]


def test_a_replay_returns_the_original_result_even_after_later_changes(
    tenant: TenantSession, world: World
) -> None:
    command = c.UpdateScriptContent(script_id=world.script.id, content="v3", command_id=uuid4())
    first = tenant.handle(command)
    tenant.handle(c.UpdateScriptContent(script_id=world.script.id, content="v4"))
    assert tenant.handle(command) == first
    assert tenant.scripts.find_by_id(world.script.id).content == "v4"


def test_a_replayed_create_does_not_make_a_second_script(tenant: TenantSession) -> None:
    command = create_command(ScriptType.HTTP, command_id=uuid4())
    first = tenant.handle(command)
    assert tenant.handle(command) == first  # no RouteConflict: it is the same command
    assert tenant.scripts.count() == 1


def test_a_command_id_that_failed_can_be_retried_after_the_cause_is_fixed(
    tenant: TenantSession, world: World
) -> None:
    command_id = uuid4()
    tenant.handle(c.DisableScript(script_id=world.script.id))
    start = c.StartExecution(
        script_id=world.script.id, trigger={"type": "api"}, command_id=command_id
    )
    with pytest.raises(InvalidTransition):  # nothing is recorded for a failed command
        tenant.handle(start)
    tenant.handle(c.EnableScript(script_id=world.script.id))
    started = tenant.handle(start)
    assert tenant.handle(start) == started


def test_two_threads_racing_with_the_same_command_id_create_one_script(
    module: ScriptsModule, tenant_id: UUID, user_id: UUID, dsn: str
) -> None:
    t = module.tenant(tenant_id, user_id)
    command = create_command(ScriptType.ONE_OFF, command_id=uuid4())
    outcomes = race_past_the_command_log(dsn, 2, lambda i: t.handle(command))
    assert errors_of(outcomes) == []
    first, second = values_of(outcomes)
    assert first == second
    assert t.scripts.count() == 1
    assert t.scripts.find() == [first]


def test_threads_racing_with_the_same_command_id_without_coordination_agree(
    module: ScriptsModule, tenant_id: UUID, user_id: UUID
) -> None:
    t = module.tenant(tenant_id, user_id)
    for _ in range(5):
        command = create_command(ScriptType.EMBEDDED, command_id=uuid4())
        outcomes = race(3, lambda i, command=command: t.handle(command))
        assert errors_of(outcomes) == []
        assert len({s.id for s in values_of(outcomes)}) == 1
    assert t.scripts.count() == 5


def test_two_threads_racing_with_the_same_command_id_update_a_script_once(
    module: ScriptsModule, tenant_id: UUID, user_id: UUID, dsn: str
) -> None:
    t = module.tenant(tenant_id, user_id)
    script = t.handle(create_command())
    command = c.UpdateScriptContent(script_id=script.id, content="once", command_id=uuid4())
    outcomes = race_past_the_command_log(dsn, 2, lambda i: t.handle(command))
    assert stream_versions(dsn, script.id) == [1, 2]
    assert errors_of(outcomes) == []
    first, second = values_of(outcomes)
    assert first == second


def test_two_threads_racing_with_the_same_command_id_create_one_http_script(
    module: ScriptsModule, tenant_id: UUID, user_id: UUID, dsn: str
) -> None:
    t = module.tenant(tenant_id, user_id)
    command = create_command(ScriptType.HTTP, command_id=uuid4())
    outcomes = race_past_the_command_log(dsn, 2, lambda i: t.handle(command))
    assert t.scripts.count() == 1
    assert errors_of(outcomes) == []
    first, second = values_of(outcomes)
    assert first == second


def test_command_ids_are_scoped_to_their_tenant(module: ScriptsModule, user_id: UUID) -> None:
    command_id = uuid4()
    a, b = module.tenant(uuid4(), user_id), module.tenant(uuid4(), user_id)
    from_a = a.handle(create_command(name="of a", command_id=command_id))
    from_b = b.handle(create_command(name="of b", command_id=command_id))
    assert (from_a.tenant_id, from_b.tenant_id) == (a.session.tenant_id, b.session.tenant_id)
    assert from_b.name == "of b" and from_a.id != from_b.id
    assert b.handle(create_command(name="of b", command_id=command_id)) == from_b


# -- expected_version -----------------------------------------------------------------------


VERSIONED = [case for case in COMMANDS if case[0] != "CreateScript"]


@pytest.mark.parametrize(("name", "build", "stream"), VERSIONED, ids=[n for n, _, _ in VERSIONED])
def test_a_wrong_expected_version_is_a_concurrency_conflict_and_writes_nothing(
    tenant: TenantSession, world: World, dsn: str, name: str, build: Any, stream: Any
) -> None:
    current = {
        "BeginExecution": world.pending.version,
        "CompleteExecution": world.running.version,
        "EnableScript": world.disabled.version,
    }.get(name, world.script.version)
    before = row_counts(dsn)
    for wrong in (current - 1, current + 1):
        if wrong < 1:
            continue
        with pytest.raises(ConcurrencyConflict) as error:
            tenant.handle(build(world, expected_version=wrong))
        assert error.value.expected_version == wrong
        assert row_counts(dsn) == before
    assert tenant.handle(build(world, expected_version=current)) is not None


def test_expected_version_on_a_create_is_refused(tenant: TenantSession, dsn: str) -> None:
    before = row_counts(dsn)
    with pytest.raises(InvalidInput):
        tenant.handle(create_command(expected_version=1))
    assert row_counts(dsn) == before


def test_storing_a_stale_copy_is_a_concurrency_conflict_and_writes_nothing(
    tenant: TenantSession, dsn: str, user_id: UUID
) -> None:
    script = tenant.handle(create_command())
    stale = tenant.scripts.find_by_id(script.id)
    winner = tenant.scripts.update(stale.update_content("first", user_id))
    before = row_counts(dsn)
    with pytest.raises(ConcurrencyConflict) as error:
        tenant.scripts.update(stale.update_content("second", user_id))
    assert error.value.aggregate_id == script.id
    assert row_counts(dsn) == before
    assert tenant.scripts.find_by_id(script.id) == winner
    assert [h.version for h in tenant.scripts.get_version_history(script.id)] == [1, 2]


def test_storing_a_stale_execution_is_a_concurrency_conflict(tenant: TenantSession) -> None:
    script = tenant.handle(create_command())
    running = tenant.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    tenant.executions.update(running.complete("completed"))
    with pytest.raises(ConcurrencyConflict):
        tenant.executions.update(running.complete("failed"))
    assert tenant.executions.find_by_id(running.id).status == "completed"


def test_creating_an_existing_id_again_is_refused_and_writes_nothing(
    tenant: TenantSession, dsn: str
) -> None:
    script = tenant.handle(create_command())
    before = row_counts(dsn)
    with pytest.raises(InvalidInput):
        tenant.handle(create_command(script_id=script.id, name="clobber"))
    assert row_counts(dsn) == before
    assert tenant.scripts.find_by_id(script.id) == script


def test_a_command_id_reused_for_another_kind_of_command_is_a_conflict(
    module: ScriptsModule, tenant_id: UUID, user_id: UUID
) -> None:
    t = module.tenant(tenant_id, user_id)
    command_id = uuid4()
    script = t.handle(
        c.CreateScript(name="once", content="x", type="one_off", command_id=command_id)
    )
    with pytest.raises(Conflict, match="already used for a CreateScript"):
        t.handle(c.EnableScript(script_id=script.id, command_id=command_id))

"""The async module raises what the blocking one raises, with the same message, for every
mistake a caller can make: each scenario runs against both surfaces (one tenant each, on one
database, with the same ids) and both must answer the same sequence of results and errors."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from scripts_es import AsyncScriptsModule, ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, Script, VersionRetentionPolicy
from scripts_es.errors import ScriptsError
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.aio.support import BlockingTenant, Loop, open_async_module
from tests.support.commands import create_command
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)

SCRIPT, OTHER, RUN, CMD = (uuid.uuid4() for _ in range(4))
Surface = Any  # a TenantSession, or an AsyncTenantSession made blocking
Scenario = Callable[[Surface], None]


def http(script_id: uuid.UUID, **fields: Any) -> c.CreateScript:
    return create_command("http", script_id=script_id, **fields)


def not_found(t: Surface) -> None:
    t.scripts.find_by_id(SCRIPT)


def not_found_execution(t: Surface) -> None:
    t.executions.find_by_id(RUN)


def not_found_command(t: Surface) -> None:
    t.handle(c.UpdateScriptContent(script_id=SCRIPT, content="y"))


def not_found_route(t: Surface) -> None:
    t.scripts.find_by_route("get", "/nowhere")


def wrong_expected_version(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.handle(c.UpdateScriptContent(script_id=SCRIPT, content="y", expected_version=2))


def stale_update(t: Surface) -> None:
    script = t.handle(create_command(script_id=SCRIPT))
    t.handle(c.UpdateScriptContent(script_id=SCRIPT, content="y"))
    t.scripts.update(script.update_content("z", script.created_by))


def existing_id(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.handle(create_command(script_id=SCRIPT))


def route_taken(t: Surface) -> None:
    t.handle(http(SCRIPT))
    t.handle(http(OTHER))


def not_a_command(t: Surface) -> None:
    t.handle("CreateScript")


def not_a_uuid(t: Surface) -> None:
    t.scripts.find_by_id("not-a-uuid")


def bad_params(t: Surface) -> None:
    t.scripts.find(ExecutionFindParams())


def bad_version(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.scripts.get_version(SCRIPT, 0)


def bad_policy(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.scripts.prune_version_history(SCRIPT, VersionRetentionPolicy())


def bad_route(t: Surface) -> None:
    t.scripts.find_by_route("FETCH", "no-slash")


def other_tenants_script(t: Surface) -> None:
    foreign = Script.create(
        tenant_id=uuid.uuid4(), created_by=uuid.uuid4(), name="n", content="x", type="one_off",
        metadata={},
    )  # fmt: skip
    t.scripts.create(foreign)


def pruned_version(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    for n in range(3):
        t.handle(c.UpdateScriptContent(script_id=SCRIPT, content=f"v{n}"))
    t.handle(c.PruneScriptHistory(script_id=SCRIPT, max_versions=2))
    t.scripts.get_version(SCRIPT, 1)


def finished_run(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.handle(c.StartExecution(script_id=SCRIPT, execution_id=RUN, trigger={"type": "api"}))
    done = c.CompleteExecution(execution_id=RUN, status=ExecutionStatus.FAILED)
    t.handle(done)
    t.handle(done)


def disabled_script(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.handle(c.DisableScript(script_id=SCRIPT))
    t.handle(c.EnqueueExecution(script_id=SCRIPT, trigger={"type": "cron"}))


def replayed(t: Surface) -> None:
    first = t.handle(create_command(script_id=SCRIPT, command_id=CMD))
    again = t.handle(create_command(script_id=SCRIPT, command_id=CMD))
    assert again == first
    t.handle(c.DeleteScript(script_id=SCRIPT, command_id=CMD))


def deleted_script(t: Surface) -> None:
    t.handle(create_command(script_id=SCRIPT))
    t.scripts.delete(SCRIPT)
    assert t.scripts.find(ScriptFindParams()) == []
    t.scripts.delete(SCRIPT)


SCENARIOS: list[Scenario] = [
    not_found, not_found_execution, not_found_command, not_found_route, wrong_expected_version,
    stale_update, existing_id, route_taken, not_a_command, not_a_uuid, bad_params, bad_version,
    bad_policy, bad_route, other_tenants_script, pruned_version, finished_run, disabled_script,
    replayed, deleted_script,
]  # fmt: skip


def raised(scenario: Scenario, t: Surface) -> tuple[str, str, dict[str, Any]]:
    """The error the scenario ends in: its type, message and attributes."""
    with pytest.raises(ScriptsError) as caught:
        scenario(t)
    error = caught.value
    return type(error).__name__, str(error), dict(vars(error))


@pytest.fixture(scope="module")
def amodule_shared(loop: Loop, dsn: str) -> Iterator[AsyncScriptsModule]:
    with open_async_module(loop, dsn) as module:
        yield module


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS])
def test_the_async_module_raises_what_the_blocking_one_raises(
    scenario: Scenario, module: ScriptsModule, amodule_shared: AsyncScriptsModule, loop: Loop
) -> None:
    user = uuid.uuid4()
    blocking = module.tenant(uuid.uuid4(), user)
    asynchronous = BlockingTenant(amodule_shared.tenant(uuid.uuid4(), user), loop)
    expected = raised(scenario, blocking)
    assert raised(scenario, asynchronous) == expected

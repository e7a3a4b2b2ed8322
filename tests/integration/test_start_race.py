"""Starting an execution holds its script against a concurrent disable until commit."""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

import pytest

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.errors import InvalidTransition
from scripts_es.service import handlers


def test_a_disable_racing_a_start_lands_either_before_or_after_it(
    module: ScriptsModule, monkeypatch: pytest.MonkeyPatch
) -> None:
    t = module.tenant(uuid.uuid4(), uuid.uuid4())
    script = t.handle(c.CreateScript(name="racy", content="x", type="one_off"))
    checked = threading.Event()
    original = handlers.runnable_script

    def slow_runnable(script_id: uuid.UUID, **options: Any) -> Any:
        held = yield from original(script_id, **options)
        checked.set()
        time.sleep(0.5)  # the disable below commits meanwhile, unless the start holds the script
        return held

    monkeypatch.setattr(handlers, "runnable_script", slow_runnable)
    disabled_at: list[float] = []

    def disable() -> None:
        checked.wait(5)
        t.handle(c.DisableScript(script_id=script.id))
        disabled_at.append(time.monotonic())

    racer = threading.Thread(target=disable)
    racer.start()
    run = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    started_at = time.monotonic()
    racer.join()
    # The disable waited for the start's commit: the execution ran an enabled script.
    assert disabled_at[0] >= started_at
    assert run.script_version == 1
    assert t.scripts.find_by_id(script.id).is_enabled is False
    monkeypatch.undo()
    with pytest.raises(InvalidTransition):
        t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))


def test_a_start_from_a_cached_script_sees_what_another_process_changed(dsn: str) -> None:
    """The start uses the command cache's script and checks its version under the hold: a
    script another process (another cache) changed, disabled or enabled meanwhile is started
    as it is now, or refused as it is now, never as this process last saw it."""
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    with (
        ScriptsModule.open(dsn, install=False) as here,
        ScriptsModule.open(dsn, install=False) as elsewhere,
    ):
        t, other = here.tenant(tenant_id, user_id), elsewhere.tenant(tenant_id, user_id)
        script = t.handle(c.CreateScript(name="cached", content="v1", type="one_off"))
        first = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
        assert first.script_version == 1

        other.handle(c.UpdateScriptContent(script_id=script.id, content="v2"))
        moved = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
        assert moved.script_version == 2  # not the cached version 1

        other.handle(c.DisableScript(script_id=script.id))
        with pytest.raises(InvalidTransition):
            t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))

        other.handle(c.EnableScript(script_id=script.id))  # this process saw it disabled
        enabled = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
        assert enabled.script_version == 4
        assert len(t.executions.find_for_script(script.id)) == 3

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

    def slow_runnable(script_id: uuid.UUID) -> Any:
        held = yield from original(script_id)
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

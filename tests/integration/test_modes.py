"""Module options: projections by the runner instead of inline, and automatic pruning."""

from __future__ import annotations

import threading
import uuid

import pytest

from scripts_es import AutoPrune, ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import VersionRetentionPolicy
from scripts_es.errors import StorageUnavailable


def test_without_inline_projection_reads_wait_for_the_runner(dsn: str) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        script = t.handle(c.CreateScript(name="later", content="x", type="one_off"))
        stop = threading.Event()
        runner = threading.Thread(target=module.run_projections, kwargs={"stop": stop})
        runner.start()
        try:
            assert [s.id for s in t.scripts.find()] == [script.id]
            t.handle(c.UpdateScriptContent(script_id=script.id, content="y"))
            assert t.scripts.find()[0].version == 2
            assert [v.version for v in t.scripts.get_version_history(script.id)] == [1, 2]
        finally:
            stop.set()
            runner.join()
        assert module.verify_projections().ok


def test_without_a_runner_reads_fail_clearly_instead_of_answering_stale(dsn: str) -> None:
    with ScriptsModule.open(
        dsn, install=False, inline_projections=False, projection_timeout=0.2
    ) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        t.handle(c.CreateScript(name="later", content="x", type="one_off"))
        with pytest.raises(StorageUnavailable, match="projections run"):
            t.scripts.find()


def test_auto_prune_keeps_history_bounded_without_a_host_loop(dsn: str) -> None:
    policy = AutoPrune(VersionRetentionPolicy(max_versions=5), every=10)
    with ScriptsModule.open(dsn, install=False, auto_prune=policy) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        script = t.handle(c.CreateScript(name="busy", content="x", type="one_off"))
        for i in range(24):
            t.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{i}"))
        history = [v.version for v in t.scripts.get_version_history(script.id)]
        assert history == list(range(16, 26))  # pruned at version 20 to 16..20, then 21..25 added
        assert module.verify_projections().ok

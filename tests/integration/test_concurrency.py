"""Concurrent writers lose nothing and duplicate nothing (DESIGN §4 optimistic concurrency)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from uuid import UUID, uuid4

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, Script, ScriptType
from scripts_es.errors import ConcurrencyConflict, InvalidTransition, NotFound
from tests.integration.races import errors_of, race, values_of
from tests.support.commands import create_command
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import stream_versions

THREADS = 4
UPDATES_PER_THREAD = 8


def _hammer(update_once: Callable[[int, int], None]) -> None:
    """Run `update_once(thread, k)` for every thread and k, all threads started together."""
    barrier = threading.Barrier(THREADS)
    failures: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            for k in range(UPDATES_PER_THREAD):
                update_once(i, k)
        except BaseException as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "a writer hung"
    assert failures == []


def _assert_nothing_lost(t: TenantSession, dsn: str, script_id: UUID, contents: list[str]) -> None:
    """Version 1 + one version per successful update, each content in exactly one version."""
    final = t.scripts.find_by_id(script_id)
    n = 1 + len(contents)
    assert final.version == n
    assert stream_versions(dsn, script_id) == list(range(1, n + 1))
    history = t.scripts.get_version_history(script_id)
    assert [h.version for h in history] == list(range(1, n + 1))
    assert [h.change for h in history] == ["ScriptCreated"] + ["ScriptContentUpdated"] * (n - 1)
    seen = Counter(t.scripts.get_version(script_id, v).content for v in range(2, n + 1))
    assert seen == Counter(contents)
    assert max(seen.values()) == 1
    assert [s.version for s in t.scripts.find() if s.id == script_id] == [n]


def test_writers_retrying_on_conflict_through_the_repository_lose_no_update(
    module: ScriptsModule, tenant_id: UUID, dsn: str
) -> None:
    owner = module.tenant(tenant_id, uuid4())
    script = owner.handle(create_command(ScriptType.CRON))
    done: list[str] = []
    conflicts = Counter[int]()

    def update_once(i: int, k: int) -> None:
        t = module.tenant(tenant_id, uuid4())
        content = f"thread {i} update {k}"
        while True:
            current = t.scripts.find_by_id(script.id)
            try:
                t.scripts.update(current.update_content(content, t.session.user_id))
            except ConcurrencyConflict:
                conflicts[i] += 1
                continue
            done.append(content)
            return

    _hammer(update_once)
    assert len(done) == THREADS * UPDATES_PER_THREAD
    _assert_nothing_lost(owner, dsn, script.id, done)


def test_writers_retrying_on_conflict_through_handle_with_expected_version_lose_no_update(
    module: ScriptsModule, tenant_id: UUID, dsn: str
) -> None:
    owner = module.tenant(tenant_id, uuid4())
    script = owner.handle(create_command(ScriptType.HTTP))
    done: list[str] = []

    def update_once(i: int, k: int) -> None:
        t = module.tenant(tenant_id, uuid4())
        content = f"thread {i} update {k}"
        while True:
            seen = t.scripts.find_by_id(script.id).version
            command = c.UpdateScriptContent(
                script_id=script.id, content=content, expected_version=seen
            )
            try:
                result = t.handle(command)
            except ConcurrencyConflict:
                continue
            assert result.version == seen + 1 and result.content == content
            done.append(content)
            return

    _hammer(update_once)
    _assert_nothing_lost(owner, dsn, script.id, done)


def test_writers_on_different_scripts_never_conflict(
    module: ScriptsModule, tenant_id: UUID, dsn: str
) -> None:
    owner = module.tenant(tenant_id, uuid4())
    scripts = [owner.handle(create_command(name=f"s{i}")) for i in range(THREADS)]
    done: dict[int, list[str]] = {i: [] for i in range(THREADS)}

    def update_once(i: int, k: int) -> None:
        content = f"s{i} v{k}"
        owner.handle(c.UpdateScriptContent(script_id=scripts[i].id, content=content))
        done[i].append(content)

    _hammer(update_once)  # any ConcurrencyConflict fails the writer
    for i, script in enumerate(scripts):
        _assert_nothing_lost(owner, dsn, script.id, done[i])


def test_racing_completions_of_one_execution_have_exactly_one_winner(
    module: ScriptsModule, tenant: TenantSession, tenant_id: UUID
) -> None:
    script = tenant.handle(create_command())
    statuses = ["completed", "failed", "timeout", "completed"]
    for _ in range(3):
        running = tenant.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))

        def complete(i: int, execution_id: UUID = running.id) -> object:
            t = module.tenant(tenant_id, uuid4())
            return t.handle(
                c.CompleteExecution(
                    execution_id=execution_id, status=statuses[i], result={"output": f"{i}"}
                )
            )

        outcomes = race(THREADS, complete)
        (winner,) = values_of(outcomes)
        for error in errors_of(outcomes):
            assert isinstance(error, ConcurrencyConflict | InvalidTransition), error
        stored = tenant.executions.find_by_id(running.id)
        assert stored == winner and stored.version == 2
        assert stored.status in {ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, "timeout"}


def test_racing_deletes_of_one_script_delete_it_once(
    module: ScriptsModule, tenant: TenantSession, tenant_id: UUID, dsn: str
) -> None:
    script = tenant.handle(create_command(ScriptType.HTTP))

    def delete(i: int) -> Script:
        return module.tenant(tenant_id, uuid4()).handle(c.DeleteScript(script_id=script.id))  # type: ignore[no-any-return]

    outcomes = race(THREADS, delete)
    assert len(values_of(outcomes)) == 1
    for error in errors_of(outcomes):
        assert isinstance(error, ConcurrencyConflict | NotFound), error
    assert stream_versions(dsn, script.id) == [1, 2]
    with pytest.raises(NotFound):
        tenant.scripts.find_by_id(script.id)
    tenant.handle(create_command(ScriptType.HTTP))  # the route is free again

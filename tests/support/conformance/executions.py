"""The execution repository's contract (DESIGN §3, §4, §5): every backend's test class runs it."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from scripts_es.domain import (
    Execution,
    ExecutionResult,
    ExecutionStatus,
    ExecutionTrigger,
    LogEntry,
    ScriptType,
    TriggerType,
)
from scripts_es.errors import ConcurrencyConflict, InvalidTransition, NotFound
from scripts_es.queries import ExecutionFindParams
from tests.support.conformance.base import (
    Repositories,
    assert_execution_reads_back,
    new_script,
)


class ExecutionRepositoryContract:
    """Subclass with a `repositories` fixture to run these tests against a backend."""

    @pytest.fixture
    def repositories(self) -> Repositories:
        raise NotImplementedError("a backend's test class provides its repositories")

    # -- create, update, read back ---------------------------------------------------------------

    def test_an_execution_round_trips_every_field_through_the_repository(
        self, repositories: Repositories
    ) -> None:
        timed, clock, user_id = repositories, repositories.clock, repositories.user_id
        script = timed.scripts.create(new_script(timed, ScriptType.EMBEDDED))
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
        self, repositories: Repositories
    ) -> None:
        timed = repositories
        script = timed.scripts.create(new_script(timed))
        payload = {"big": 4.745852742554271e16, "huge": 1.5e300, "ok": 0.1}
        started = timed.executions.create(
            Execution.start(script=script, trigger={"type": "api"}, input=payload, at=timed.clock())
        )
        assert timed.executions.find_by_id(started.id).input == payload
        (found,) = timed.executions.find_for_script(script.id)
        assert found.input == payload
        assert all(isinstance(v, float) for v in found.input.values())

    def test_a_queued_execution_round_trips_through_the_repository(
        self, repositories: Repositories
    ) -> None:
        timed, clock = repositories, repositories.clock
        script = timed.scripts.create(new_script(timed, ScriptType.CRON))
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

    def test_an_execution_update_of_a_copy_the_stream_has_moved_past_is_a_conflict(
        self, repositories: Repositories
    ) -> None:
        repos = repositories
        script = repos.scripts.create(new_script(repos))
        queued = repos.executions.create(
            Execution.enqueue(script=script, trigger={"type": "api"}, at=repos.clock())
        )
        repos.executions.update(queued.begin(at=repos.clock()))
        before = repos.stored()
        with pytest.raises(ConcurrencyConflict):
            repos.executions.update(queued.complete("failed", at=repos.clock()))
        assert repos.stored() == before
        assert repos.executions.find_by_id(queued.id).status is ExecutionStatus.RUNNING

    def test_an_execution_that_was_never_stored_is_not_found(
        self, repositories: Repositories
    ) -> None:
        with pytest.raises(NotFound):
            repositories.executions.find_by_id(uuid4())
        assert repositories.executions.find_for_script(uuid4()) == []

    # -- which scripts may run -------------------------------------------------------------------

    def test_the_repository_refuses_an_execution_of_a_script_disabled_since_it_was_loaded(
        self, repositories: Repositories
    ) -> None:
        timed = repositories
        script = timed.scripts.create(new_script(timed))
        stale = timed.scripts.find_by_id(script.id)
        timed.scripts.update(stale.disable(timed.user_id, at=timed.clock()))
        before = repositories.stored()
        with pytest.raises(InvalidTransition):
            timed.executions.create(Execution.start(script=stale, trigger={"type": "api"}))
        assert repositories.stored() == before

    def test_an_execution_of_a_deleted_script_is_not_found(
        self, repositories: Repositories
    ) -> None:
        repos = repositories
        script = repos.scripts.create(new_script(repos))
        repos.scripts.delete(script.id)
        before = repos.stored()
        with pytest.raises(NotFound):
            repos.executions.create(Execution.start(script=script, trigger={"type": "api"}))
        assert repos.stored() == before

    # -- find_for_script -------------------------------------------------------------------------

    def test_find_for_script_answers_one_scripts_executions_filtered_and_sorted(
        self, repositories: Repositories
    ) -> None:
        repos, clock = repositories, repositories.clock
        script, other = (repos.scripts.create(new_script(repos)) for _ in range(2))
        runs = []
        for trigger in ["api", "cron", "api"]:
            at = clock.advance(timedelta(seconds=1))
            runs.append(
                repos.executions.create(
                    Execution.start(script=script, trigger={"type": trigger}, at=at)
                )
            )
            repos.executions.create(Execution.start(script=other, trigger={"type": "api"}, at=at))
        first, second, third = runs
        second = repos.executions.update(second.complete("completed", at=clock()))
        assert repos.executions.find_for_script(script.id) == [third, second, first]
        cases = {
            ExecutionFindParams(status=ExecutionStatus.COMPLETED): [second],
            ExecutionFindParams(trigger_type=TriggerType.API): [third, first],
            ExecutionFindParams(started_after=first.started_at): [third, second],
            ExecutionFindParams(sort=(("started_at", "asc"),), limit=2): [first, second],
            ExecutionFindParams(limit=1, offset=1): [second],
        }
        for params, expected in cases.items():
            assert repos.executions.find_for_script(script.id, params) == expected, params

    # -- retention -------------------------------------------------------------------------------

    def test_a_prune_removes_old_terminal_executions_and_keeps_the_rest(
        self, repositories: Repositories
    ) -> None:
        repos, clock = repositories, repositories.clock
        script = repos.scripts.create(new_script(repos))

        def finished() -> Execution:
            run = Execution.start(script=script, trigger={"type": "api"}, at=clock())
            run = repos.executions.create(run)
            return repos.executions.update(run.complete("completed", at=clock()))

        old, older = finished(), finished()
        clock.advance(timedelta(days=10))
        recent = finished()
        clock.advance(timedelta(seconds=1))
        running = repos.executions.create(
            Execution.start(script=script, trigger={"type": "api"}, at=clock())
        )
        clock.advance(timedelta(days=1))

        assert repos.executions.prune(5, keep_last_per_script=1) == 2
        for gone in (old, older):
            with pytest.raises(NotFound):
                repos.executions.find_by_id(gone.id)
            assert repos.event_versions(gone.id) == []
        assert repos.executions.find_for_script(script.id) == [running, recent]
        assert repos.executions.prune(5) == 0
        assert repos.executions.prune(0) == 1
        assert repos.executions.find_for_script(script.id) == [running]

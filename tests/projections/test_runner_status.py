"""Runner position and lag, and runners or rebuilds running side by side."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.reports import RunReport
from tests.projections.support import Workload, assert_rebuild_reproduces_live_tables, catch_up
from tests.support.raw import dump_read_model, event_count


def in_threads(*work: Callable[[], object]) -> list[object]:
    """Run each callable in its own thread, started together; re-raise the first failure."""
    results: list[object] = [None] * len(work)
    errors: list[BaseException] = []
    start = threading.Barrier(len(work))

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work[i]()
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(work))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if errors:
        raise errors[0]
    return results


def test_status_shows_the_lag_after_writes_and_none_after_running_to_completion(
    dsn: str,
) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        (before,) = module.projection_status()
        assert before.lag_events == 0
        work = Workload(module, random.Random(1))
        for _ in range(40):
            work.step()
        written = event_count(dsn)
        (status,) = module.projection_status()
        assert status.lag_events == written > 0
        assert dump_read_model(dsn)["scripts"] == []  # nothing projected inline

        assert catch_up(module, batch_size=7) == written
        (status,) = module.projection_status()
        assert status.lag_events == 0
        assert status.last_notification_id > 0 and status.updated_at is not None

        for _ in range(5):
            work.step()
        assert module.projection_status()[0].lag_events == event_count(dsn) - written
        catch_up(module)
        assert module.projection_status()[0].lag_events == 0
        assert_rebuild_reproduces_live_tables(module, dsn)


def test_a_second_pass_of_a_caught_up_runner_applies_nothing(dsn: str) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        t.handle(c.CreateScript(name="a", content="x", type="one_off"))
        assert catch_up(module) == 1
        assert module.run_projections(once=True) == RunReport(events=0, batches=0)


def test_two_runners_started_together_apply_every_event_exactly_once(dsn: str) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        work = Workload(module, random.Random(3))
        for _ in range(150):
            work.step()

        def runner() -> int:
            return catch_up(module, batch_size=3)

        def writer() -> int:
            for _ in range(40):
                work.step()
            return 0

        applied = in_threads(runner, runner, writer)
        assert applied[0] and applied[1]  # both really took turns
        total = sum(n for n in applied if isinstance(n, int)) + catch_up(module)
        # The tracking row is locked per batch: every event was applied by exactly one batch.
        assert total == event_count(dsn)
        assert module.projection_status()[0].lag_events == 0
        assert_rebuild_reproduces_live_tables(module, dsn)


def test_a_rebuild_while_a_runner_and_writers_are_busy_converges_to_the_same_tables(
    dsn: str,
) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        work = Workload(module, random.Random(4), deletes=True)
        for _ in range(100):
            work.step()
        stop = threading.Event()

        def follow() -> object:
            return module.run_projections(batch_size=4, poll_interval=0.01, stop=stop)

        def rebuild_while_writing() -> None:
            try:
                for _ in range(3):
                    for _ in range(15):
                        work.step()
                    module.rebuild_projections()
            finally:
                stop.set()

        in_threads(follow, rebuild_while_writing)
        catch_up(module)
        assert_rebuild_reproduces_live_tables(module, dsn)


def test_inline_projection_and_the_runner_applying_the_same_events_leave_one_result(
    dsn: str,
) -> None:
    with ScriptsModule.open(dsn, install=False) as module:  # inline projection on
        work = Workload(module, random.Random(5))
        for _ in range(80):
            work.step()
        inline = dump_read_model(dsn)
        # The runner starts from the beginning and re-applies every event on top.
        assert catch_up(module, batch_size=9) == event_count(dsn)
        assert dump_read_model(dsn) == inline
        assert_rebuild_reproduces_live_tables(module, dsn)

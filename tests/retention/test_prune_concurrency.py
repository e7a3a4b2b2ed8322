"""Commands racing a prune are neither lost nor duplicated (DESIGN §5)."""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from projections import runner
from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import PruneResult, VersionRetentionPolicy
from scripts_es.errors import ConcurrencyConflict, VersionPruned
from scripts_es.store import database
from tests.support.clock import Clock
from tests.support.raw import Raw

RUN_FOR = 3.0


class Crew:
    """Threads that loop until told to stop, keeping the first error each one meets."""

    def __init__(self) -> None:
        self.stop = threading.Event()
        self.errors: list[BaseException] = []
        self.threads: list[threading.Thread] = []

    def loop(self, step: Callable[[], None]) -> None:
        def run() -> None:
            try:
                while not self.stop.is_set():
                    step()
            except BaseException as error:  # reported by the test, not lost in the thread
                self.errors.append(error)
                self.stop.set()

        self.threads.append(threading.Thread(target=run, daemon=True))

    def run_for(self, seconds: float) -> None:
        for thread in self.threads:
            thread.start()
        self.stop.wait(seconds)
        self.stop.set()
        for thread in self.threads:
            thread.join(30)
        if self.errors:
            raise self.errors[0]


@pytest.mark.slow
def test_updates_racing_repeated_prunes_are_neither_lost_nor_duplicated(
    module: ScriptsModule, tenant: TenantSession, raw: Raw
) -> None:
    script = tenant.handle(c.CreateScript(name="busy", content="w-start", type="one_off"))
    sid = script.id
    acked: list[tuple[int, str]] = []  # (version, content) of each acknowledged update
    prunes: list[PruneResult] = []
    conflicts = [0]
    reads = {"states": 0, "pruned": 0}
    crew = Crew()

    def write() -> None:
        content = f"w{len(acked)}"
        while True:
            try:
                updated = tenant.handle(c.UpdateScriptContent(script_id=sid, content=content))
                break
            except ConcurrencyConflict:
                conflicts[0] += 1
        assert updated.content == content
        acked.append((updated.version, content))

    def prune() -> None:
        prunes.append(tenant.handle(c.PruneScriptHistory(script_id=sid, max_versions=3)))

    reader_rng = random.Random(7)

    def read() -> None:
        if not acked:
            return
        version, content = acked[reader_rng.randrange(max(0, len(acked) - 6), len(acked))]
        try:
            state = tenant.scripts.get_version(sid, version)
        except VersionPruned as pruned:
            assert pruned.version == version
            reads["pruned"] += 1
            return
        assert (state.version, state.content) == (version, content), "never an older state"
        reads["states"] += 1

    crew.loop(write)
    crew.loop(prune)
    crew.loop(read)
    crew.run_for(RUN_FOR)

    assert len(acked) > 20 and len(prunes) > 20, (len(acked), len(prunes))
    versions = [v for v, _ in acked]
    assert versions == list(range(2, len(acked) + 2)), "one version per acknowledged update"
    final = tenant.scripts.find_by_id(sid)
    assert (final.version, final.content) == acked[-1]
    history = [v.version for v in tenant.scripts.get_version_history(sid)]
    horizon = history[0]
    assert history == list(range(horizon, final.version + 1))
    assert raw.event_versions(sid) == history
    for version, content in acked:
        if version >= horizon:
            assert tenant.scripts.get_version(sid, version).content == content
        else:
            with pytest.raises(VersionPruned) as pruned:
                tenant.scripts.get_version(sid, version)
            assert pruned.value.horizon == horizon
    horizons = [p.horizon for p in prunes]
    assert horizons == sorted(horizons), "the horizon never goes back"
    assert sum(p.removed for p in prunes) == horizon - 1, "each event removed exactly once"
    assert [(a[3], a[4]) for a in raw.audit(sid)] == [(p.horizon, p.removed) for p in prunes]
    assert reads["states"] > 0
    assert module.verify_projections().ok
    module.rebuild_projections()
    assert tenant.scripts.find() == [final]


class Racer:
    """Runs a competing transaction from inside another one: in a thread, waiting for it at most
    a moment, so a fix that makes it wait for the first transaction cannot deadlock the test."""

    def __init__(self, action: Callable[[], Any]) -> None:
        self.action = action
        self.results: list[Any] = []
        self.errors: list[BaseException] = []
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        def run() -> None:
            try:
                self.results.append(self.action())
            except BaseException as error:
                self.errors.append(error)

        self.thread = threading.Thread(target=run, daemon=True)
        self.thread.start()
        self.thread.join(1.0)

    @property
    def started(self) -> bool:
        return self.thread is not None

    def result(self) -> Any:
        assert self.thread is not None, "the race did not happen"
        self.thread.join(30)
        if self.errors:
            raise self.errors[0]
        return self.results[0]


class _Fetched:
    """Stands in for a cursor whose rows were already fetched."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self._rows)

    def fetchall(self) -> list[Any]:
        return self._rows

    def fetchone(self) -> Any:
        return self._rows[0] if self._rows else None


@contextmanager
def race_after_statement(module: ScriptsModule, after: int, racer: Racer) -> Iterator[None]:
    """Start `racer` right after the `after`-th statement of the next tenant transaction, which
    then goes on (READ COMMITTED: its later statements see what the racer committed)."""
    original = module.db.tenant

    class Connection:
        def __init__(self, conn: Any) -> None:
            self._conn = conn
            self._count = 0

        def execute(self, *args: Any, **kwargs: Any) -> Any:
            cursor = self._conn.execute(*args, **kwargs)
            self._count += 1
            if self._count == after and not racer.started:
                rows = cursor.fetchall()
                racer.start()
                return _Fetched(rows)
            return cursor

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

    @contextmanager
    def tenant(tenant_id: uuid.UUID) -> Iterator[Any]:
        if racer.started or threading.current_thread() is racer.thread:
            with original(tenant_id) as conn:
                yield conn
            return
        with original(tenant_id) as conn:
            yield Connection(conn)

    module.db.tenant = tenant  # type: ignore[method-assign]
    try:
        yield
    finally:
        del module.db.tenant


@contextmanager
def race_in_runner(
    module: ScriptsModule, racer: Racer, when: Callable[[Any, tuple[Any, ...], list[Any]], bool]
) -> Iterator[None]:
    """Start `racer` inside the projection runner's batch transaction, right after the first
    statement for which `when(query, args, rows)` holds."""
    original = module.db.maintenance

    @contextmanager
    def maintenance() -> Iterator[Any]:
        with original() as conn:

            class Connection:
                def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
                    cursor = conn.execute(query, *args, **kwargs)
                    if racer.started or cursor.description is None:
                        return cursor
                    rows = cursor.fetchall()
                    if when(query, args, rows):
                        racer.start()
                    return _Fetched(rows)

                def __getattr__(self, name: str) -> Any:
                    return getattr(conn, name)

            yield Connection()

    module.db.maintenance = maintenance  # type: ignore[method-assign]
    try:
        yield
    finally:
        del module.db.maintenance


def test_time_travel_racing_a_prune_answers_the_old_state_or_the_new_horizon(
    module: ScriptsModule, tenant: TenantSession
) -> None:
    states = [tenant.handle(c.CreateScript(name="s", content="v1", type="one_off"))]
    for v in range(2, 9):
        states.append(tenant.handle(c.UpdateScriptContent(script_id=states[0].id, content=f"v{v}")))
    policy = VersionRetentionPolicy(max_versions=2)
    racer = Racer(lambda: tenant.scripts.prune_version_history(states[0].id, policy))

    with race_after_statement(module, 1, racer):
        try:
            answer: object = tenant.scripts.get_version(states[0].id, 4)
        except VersionPruned as pruned:
            answer = pruned

    assert racer.result().horizon == 7
    if isinstance(answer, VersionPruned):
        assert answer.horizon == 7, f"VersionPruned says: {answer}"
    else:
        assert answer == states[3]


def test_a_prune_committing_while_the_runner_projects_leaves_no_pruned_version_rows(
    dsn: str, raw: Raw
) -> None:
    with ScriptsModule.open(
        dsn, install=False, snapshot_every=10, inline_projections=False, projection_timeout=0.5
    ) as runner_mode:
        tenant = runner_mode.tenant(uuid.uuid4(), uuid.uuid4())
        script = tenant.handle(c.CreateScript(name="s", content="v1", type="one_off"))
        for v in range(2, 21):
            tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{v}"))
        policy = VersionRetentionPolicy(max_versions=5)
        racer = Racer(lambda: tenant.scripts.prune_version_history(script.id, policy))

        def batch_holds_doomed_events(query: Any, _: Any, rows: list[Any]) -> bool:
            return query is runner.QUERIES["next_events"] and any(
                row[1] == script.id and row[2] < 16 for row in rows
            )

        with race_in_runner(runner_mode, racer, batch_holds_doomed_events):
            runner_mode.run_projections(once=True)
        assert racer.result().horizon == 16
        rows = raw.rows(
            "SELECT version FROM scripts_es.script_versions WHERE script_id = %s ORDER BY version",
            (script.id,),
        )
        assert [v for (v,) in rows] == list(range(16, 21)), "version rows below the horizon"


def test_an_execution_prune_committing_while_the_runner_projects_leaves_no_row_behind(
    clocked: ScriptsModule, session: TenantSession, clock: Clock, raw: Raw
) -> None:
    """Inline projection plus a runner following the same events (the runner's docstring: "even
    the inline projection and the runner applying the same event leave one result")."""
    script = session.handle(c.CreateScript(name="s", content="v1", type="one_off"))
    run = session.handle(c.StartExecution(script_id=script.id, trigger=c.TriggerData(type="api")))
    session.handle(c.CompleteExecution(execution_id=run.id, status="completed"))
    clock.set_day(30)
    racer = Racer(lambda: session.executions.prune(older_than_days=7))

    def execution_loaded(query: Any, args: tuple[Any, ...], _: list[Any]) -> bool:
        return query is database.QUERIES["load_stream"] and args[0]["originator_id"] == run.id

    with race_in_runner(clocked, racer, execution_loaded):
        clocked.run_projections(once=True)
    assert racer.result() == 1
    assert raw.count("events", "originator_id", run.id) == 0
    assert raw.count("executions", "id", run.id) == 0, "a read-model row without a stream"

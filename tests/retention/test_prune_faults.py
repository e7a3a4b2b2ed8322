"""A prune interrupted at any step leaves exactly the state before it (DESIGN §5: "a crash at any
point leaves either the state before or the state after").

The prune transaction is run through a saboteur: the module's tenant transactions hand out a
connection whose k-th statement (or the COMMIT, k = n + 1) meets a fault, for every k:
- "raise": the process dies in Python between two statements,
- "terminate": the server connection is killed (pg_terminate_backend from a superuser),
- "sql-error": the statement fails on the server.
Then the whole database must be exactly as before, and a clean prune exactly the after-state.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import StoredEvent

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import PruneResult, Script, VersionRetentionPolicy
from scripts_es.errors import ScriptsError
from scripts_es.store.database import QUERIES
from tests.support.clock import Clock
from tests.support.raw import Raw

POLICY = VersionRetentionPolicy(max_versions=8)
Tables = dict[str, list[tuple[Any, ...]]]


class Interrupted(Exception):
    """Stands for the process dying between two statements."""


class Abort(Exception):
    """Ends the counting run before its COMMIT."""


@dataclass
class Saboteur:
    dsn: str
    strike_at: int | None = None  # 1..n: before the k-th statement; n + 1: before COMMIT
    how: str = "raise"
    statements: int = 0
    struck: bool = False

    def statement(self, conn: psycopg.Connection[Any], query: Any) -> Any:
        self.statements += 1
        if self.statements == self.strike_at:
            return self.strike(conn, query)
        return query

    def before_commit(self, conn: psycopg.Connection[Any], pruning: bool) -> None:
        if not pruning:  # e.g. the command log look-up before the prune transaction
            return
        if self.strike_at is None:
            raise Abort
        if self.statements + 1 == self.strike_at:
            self.strike(conn, None)

    def strike(self, conn: psycopg.Connection[Any], query: Any) -> Any:
        self.struck = True
        if self.how == "raise":
            raise Interrupted
        if self.how == "terminate":
            with psycopg.connect(self.dsn, autocommit=True) as su:
                su.execute("SELECT pg_terminate_backend(%s, 5000)", (conn.info.backend_pid,))
            return query
        assert self.how == "sql-error"
        if query is None:  # the step "COMMIT": fail just before it
            conn.execute("SELECT 1/0")
            return None
        return "SELECT 1/0"


class SabotagedConnection:
    def __init__(self, conn: psycopg.Connection[Any], saboteur: Saboteur) -> None:
        self._conn = conn
        self._saboteur = saboteur
        self.pruning = False

    def execute(self, query: Any, *args: Any, **kwargs: Any) -> Any:
        self.pruning = self.pruning or query is QUERIES["hold_streams"]
        query = self._saboteur.statement(self._conn, query)
        if query == "SELECT 1/0":
            return self._conn.execute(query)
        return self._conn.execute(query, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextmanager
def sabotaged(module: ScriptsModule, saboteur: Saboteur) -> Iterator[None]:
    original = module.db.tenant

    @contextmanager
    def tenant(tenant_id: uuid.UUID) -> Iterator[Any]:
        with original(tenant_id) as conn:
            sabotaged = SabotagedConnection(conn, saboteur)
            yield sabotaged
            saboteur.before_commit(conn, sabotaged.pruning)

    module.db.tenant = tenant  # type: ignore[method-assign]
    try:
        yield
    finally:
        del module.db.tenant


@dataclass
class Scene:
    session: TenantSession
    script_id: uuid.UUID
    states: list[Script]
    user_id: uuid.UUID
    clock: Clock


@pytest.fixture
def scene(clocked: ScriptsModule, clock: Clock) -> Scene:
    """A script at version 25 (snapshots at 10 and 20), a bystander script with executions in
    the same tenant, and another tenant's script."""
    user_id = uuid.uuid4()
    session = clocked.tenant(uuid.uuid4(), user_id)
    states = [session.handle(c.CreateScript(name="s", content="v1", type="one_off"))]
    for v in range(2, 26):
        clock.advance(timedelta(hours=v))
        states.append(
            session.handle(c.UpdateScriptContent(script_id=states[0].id, content=f"v{v}"))
        )
    bystander = session.handle(
        c.CreateScript(name="b", content="b", type="http", metadata={"path": "/b", "method": "GET"})
    )
    for i in range(12):
        session.handle(c.UpdateScriptContent(script_id=bystander.id, content=f"b{i}"))
    run = session.handle(
        c.StartExecution(script_id=bystander.id, trigger=c.TriggerData(type="api"))
    )
    session.handle(c.CompleteExecution(execution_id=run.id, status="completed"))
    other = clocked.tenant(uuid.uuid4(), uuid.uuid4())
    theirs = other.handle(c.CreateScript(name="s", content="x", type="one_off"))
    for i in range(15):
        other.handle(c.UpdateScriptContent(script_id=theirs.id, content=f"x{i}"))
    clock.advance(timedelta(days=1))
    return Scene(session, states[0].id, states, user_id, clock)


def assert_exactly_pruned(
    before: Tables, after: Tables, scene: Scene, horizon: int, *, by_command: bool
) -> None:
    """`after` is `before` less the history below `horizon`, plus the snapshot at the horizon,
    one audit row (and one command-log row when pruned by command); nothing else moved."""
    sid = scene.script_id

    def below(row: tuple[Any, ...]) -> bool:
        return bool(row[1] == sid and row[2] < horizon)

    def not_seed(row: tuple[Any, ...]) -> bool:
        return (row[1], row[2]) != (sid, horizon)

    for table in ("scripts", "executions", "script_routes"):
        assert after[table] == before[table], table
    for table in ("events", "script_versions"):
        assert after[table] == [r for r in before[table] if not below(r)], table
    kept = [r for r in before["snapshots"] if not below(r) and not_seed(r)]
    assert [r for r in after["snapshots"] if not_seed(r)] == kept
    (seed,) = [r for r in after["snapshots"] if not not_seed(r)]
    stored = StoredEvent(sid, horizon, seed[3], bytes(seed[4]))
    assert scene.session.session.store.mapper.from_snapshot(stored) == scene.states[horizon - 1]
    assert before["prune_audit"] == []
    ((_, _, *audit),) = after["prune_audit"]
    assert audit == [
        sid,
        scene.clock.now,
        scene.user_id,
        POLICY.model_dump(),
        horizon,
        horizon - 1,
    ]
    assert len(after["commands"]) == len(before["commands"]) + (1 if by_command else 0)


def prune(scene: Scene, by_command: bool) -> PruneResult:
    if by_command:
        return scene.session.handle(  # type: ignore[no-any-return]
            c.PruneScriptHistory(
                script_id=scene.script_id, max_versions=POLICY.max_versions, command_id=uuid.uuid4()
            )
        )
    return scene.session.scripts.prune_version_history(scene.script_id, POLICY)


def count_statements(clocked: ScriptsModule, dsn: str, scene: Scene, by_command: bool) -> int:
    saboteur = Saboteur(dsn)
    with sabotaged(clocked, saboteur), pytest.raises(Abort):
        prune(scene, by_command)
    return saboteur.statements


@pytest.mark.parametrize("by_command", [False, True], ids=["repository", "command"])
@pytest.mark.parametrize("how", ["raise", "terminate", "sql-error"])
def test_a_prune_interrupted_at_any_step_leaves_exactly_the_state_before(
    clocked: ScriptsModule, dsn: str, raw: Raw, scene: Scene, how: str, by_command: bool
) -> None:
    before = raw.everything()
    steps = count_statements(clocked, dsn, scene, by_command)
    assert steps >= 8, "lock, load, versions, size, load at horizon, snapshot, 3 deletes, audit"
    assert raw.everything() == before

    for k in range(1, steps + 2):
        saboteur = Saboteur(dsn, strike_at=k, how=how)
        with sabotaged(clocked, saboteur):
            try:
                result: PruneResult | None = prune(scene, by_command)
            except (Interrupted, ScriptsError):
                result = None
        assert saboteur.struck
        assert result is None, f"a prune that met a fault at step {k} reported success"
        assert raw.everything() == before, f"fault at step {k} of {steps} left a partial prune"

    result = prune(scene, by_command)
    assert result == PruneResult(script_id=scene.script_id, horizon=18, removed=17)
    assert_exactly_pruned(before, raw.everything(), scene, 18, by_command=by_command)
    assert scene.session.scripts.find_by_id(scene.script_id) == scene.states[-1]
    assert clocked.verify_projections().ok


def test_a_prune_that_loses_its_connection_can_simply_be_run_again(
    clocked: ScriptsModule, dsn: str, raw: Raw, scene: Scene
) -> None:
    before = raw.everything()
    steps = count_statements(clocked, dsn, scene, False)
    saboteur = Saboteur(dsn, strike_at=steps, how="terminate")
    with sabotaged(clocked, saboteur), pytest.raises(ScriptsError):
        prune(scene, False)
    assert raw.everything() == before

    assert prune(scene, False).removed == 17
    assert prune(scene, False).removed == 0
    for version in range(18, 26):
        assert (
            scene.session.scripts.get_version(scene.script_id, version) == scene.states[version - 1]
        )

"""The two drivers agree: the same random command sequence, sent once through the blocking
module and once through the async one (each on its own database, with the same ids and the
same hand-moved clock), gives the same answers, the same errors and the same stored rows.

Commands are drawn as plain ops over a few script and execution slots, then made into the
same commands on both sides: wrong expected versions, reused command ids, clashing routes,
commands on deleted scripts and prunes all happen, so errors are compared as well.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_es import AsyncScriptsModule, ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ScriptType
from scripts_es.errors import ScriptsError
from tests.aio.support import Loop, open_async_module
from tests.support import pg
from tests.support.clock import Clock
from tests.support.commands import METADATA
from tests.support.fixtures import open_module
from tests.support.raw import Raw
from tests.support.strategies import contents, names, tag_lists

SCRIPTS, EXECUTIONS, COMMAND_IDS = 3, 3, 2
# Columns the database fills from its own state (positions, identities, now()): not compared.
VOLATILE = {"txid", "notification_id", "recorded_at", "removed_at"}
OTHER_ROUTE = {"path": "/hooks/other", "method": "GET"}
ROUTES = [("post", METADATA[ScriptType.HTTP]["path"]), ("get", OTHER_ROUTE["path"])]

Op = tuple[Any, ...]
slot = st.integers(0, SCRIPTS - 1)
run_slot = st.integers(0, EXECUTIONS - 1)
expected = st.none() | st.integers(1, 4)
command_id = st.none() | st.integers(0, COMMAND_IDS - 1)
ops = st.one_of(
    st.tuples(st.just("create"), slot, st.sampled_from(list(ScriptType)), names, tag_lists),
    st.tuples(st.just("content"), slot, contents, expected),
    st.tuples(st.just("details"), slot, st.none() | names, st.none() | tag_lists),
    st.tuples(st.just("route"), slot, st.booleans()),
    st.tuples(st.sampled_from(["enable", "disable", "delete"]), slot, expected),
    st.tuples(st.sampled_from(["start", "enqueue"]), slot, run_slot, expected),
    st.tuples(st.just("begin"), run_slot),
    st.tuples(st.just("complete"), run_slot, st.sampled_from(["completed", "failed", "timeout"])),
    st.tuples(st.just("prune"), slot, st.integers(1, 3)),
)
programs = st.lists(st.tuples(ops, command_id), min_size=1, max_size=14)


class Ids:
    """Fresh ids for one example, the same on both sides."""

    def __init__(self) -> None:
        self.tenant, self.user = uuid.uuid4(), uuid.uuid4()
        self.scripts = [uuid.uuid4() for _ in range(SCRIPTS)]
        self.executions = [uuid.uuid4() for _ in range(EXECUTIONS)]
        self.commands = [uuid.uuid4() for _ in range(COMMAND_IDS)]


def command(op: Op, command_index: int | None, ids: Ids) -> c.Command:
    """The command an op stands for (a function of the op and the ids only)."""
    kind, *args = op
    extra: dict[str, Any] = {}
    if command_index is not None:
        extra["command_id"] = ids.commands[command_index]
    if kind == "create":
        index, type_, name, tags = args
        return c.CreateScript(
            script_id=ids.scripts[index], name=name, content="x", type=type_,
            metadata=METADATA[type_], tags=tags, **extra,
        )  # fmt: skip
    script_id = ids.scripts[args[0]]
    if kind == "content":
        return c.UpdateScriptContent(
            script_id=script_id, content=args[1], expected_version=args[2], **extra
        )
    if kind == "details":
        return c.ChangeScriptDetails(script_id=script_id, name=args[1], tags=args[2], **extra)
    if kind == "route":  # for an http script; any other type refuses the metadata
        route = METADATA[ScriptType.HTTP] if args[1] else OTHER_ROUTE
        return c.ChangeScriptMetadata(script_id=script_id, metadata=route, **extra)
    if kind in ("enable", "disable", "delete"):
        model = {"enable": c.EnableScript, "disable": c.DisableScript, "delete": c.DeleteScript}
        return model[kind](script_id=script_id, expected_version=args[1], **extra)
    if kind in ("start", "enqueue"):
        opener = c.StartExecution if kind == "start" else c.EnqueueExecution
        return opener(
            script_id=script_id, execution_id=ids.executions[args[1]], trigger={"type": "api"},
            input={"n": args[1]}, expected_version=args[2], **extra,
        )  # fmt: skip
    if kind == "prune":
        return c.PruneScriptHistory(script_id=script_id, max_versions=args[1], **extra)
    raise AssertionError(kind)


def execution_command(op: Op, command_index: int | None, ids: Ids) -> c.Command:
    extra = {} if command_index is None else {"command_id": ids.commands[command_index]}
    execution_id = ids.executions[op[1]]
    if op[0] == "begin":
        return c.BeginExecution(execution_id=execution_id, **extra)
    return c.CompleteExecution(
        execution_id=execution_id, status=op[2], result={"output": "done"}, **extra
    )


def commands_of(program: list[tuple[Op, int | None]], ids: Ids) -> list[c.Command]:
    made = []
    for op, index in program:
        on_execution = op[0] in ("begin", "complete")
        made.append((execution_command if on_execution else command)(op, index, ids))
    return made


def outcome(answer: Any) -> tuple[Any, ...]:
    return ("ok", type(answer).__name__, answer.model_dump(mode="json"))


def failure(error: ScriptsError) -> tuple[Any, ...]:
    return ("error", type(error).__name__, str(error))


def sync_side(module: ScriptsModule, ids: Ids, cmds: list[c.Command]) -> list[Any]:
    clock = Clock()
    t = module.with_clock(clock).tenant(ids.tenant, ids.user)
    seen: list[Any] = []
    for cmd in cmds:
        try:
            seen.append(outcome(t.handle(cmd)))
        except ScriptsError as error:
            seen.append(failure(error))
        clock.advance(timedelta(seconds=1))
    seen.append(("count", t.scripts.count()))
    seen.append(("find", [s.model_dump(mode="json") for s in t.scripts.find()]))
    for method, path in ROUTES:
        try:
            seen.append(outcome(t.scripts.find_by_route(method, path)))
        except ScriptsError as error:
            seen.append(failure(error))
    for script_id in ids.scripts:
        try:
            history = t.scripts.get_version_history(script_id)
            versions = [t.scripts.get_version(script_id, i.version) for i in history]
            seen.append(("history", [i.model_dump(mode="json") for i in history]))
            seen.append(("versions", [v.model_dump(mode="json") for v in versions]))
            executions = t.executions.find_for_script(script_id)
            seen.append(("executions", [e.model_dump(mode="json") for e in executions]))
        except ScriptsError as error:
            seen.append(failure(error))
    return seen


async def async_side(module: AsyncScriptsModule, ids: Ids, cmds: list[c.Command]) -> list[Any]:
    clock = Clock()
    t = module.with_clock(clock).tenant(ids.tenant, ids.user)
    seen: list[Any] = []
    for cmd in cmds:
        try:
            seen.append(outcome(await t.handle(cmd)))
        except ScriptsError as error:
            seen.append(failure(error))
        clock.advance(timedelta(seconds=1))
    seen.append(("count", await t.scripts.count()))
    seen.append(("find", [s.model_dump(mode="json") for s in await t.scripts.find()]))
    for method, path in ROUTES:
        try:
            seen.append(outcome(await t.scripts.find_by_route(method, path)))
        except ScriptsError as error:
            seen.append(failure(error))
    for script_id in ids.scripts:
        try:
            history = await t.scripts.get_version_history(script_id)
            versions = [await t.scripts.get_version(script_id, i.version) for i in history]
            seen.append(("history", [i.model_dump(mode="json") for i in history]))
            seen.append(("versions", [v.model_dump(mode="json") for v in versions]))
            executions = await t.executions.find_for_script(script_id)
            seen.append(("executions", [e.model_dump(mode="json") for e in executions]))
        except ScriptsError as error:
            seen.append(failure(error))
    return seen


def stored(dsn: str, tenant_id: UUID) -> dict[str, list[dict[str, Any]]]:
    """Every row the tenant owns in every table, without the database's own volatile columns."""
    with Raw(dsn, dict_rows=True) as conn:
        state = conn.tenant_state(tenant_id)
    volatile = {name: VOLATILE | ({"id"} if name == "prune_audit" else set()) for name in state}
    return {
        name: [{k: v for k, v in row.items() if k not in volatile[name]} for row in rows]
        for name, rows in state.items()
    }


@pytest.fixture(scope="module")
def two_databases(pg_server: str, pg_template: str) -> Iterator[tuple[str, str]]:
    with (
        pg.throwaway_db(pg_server, pg_template) as one,
        pg.throwaway_db(pg_server, pg_template) as two,
    ):
        yield one, two


@pytest.fixture(scope="module")
def drivers(
    two_databases: tuple[str, str], loop: Loop
) -> Iterator[tuple[ScriptsModule, AsyncScriptsModule]]:
    sync_dsn, async_dsn = two_databases
    with open_module(sync_dsn) as blocking, open_async_module(loop, async_dsn) as asyncio_:
        yield blocking, asyncio_


@settings(max_examples=60)
@given(program=programs)
def test_both_drivers_answer_and_store_the_same_for_any_command_sequence(
    drivers: tuple[ScriptsModule, AsyncScriptsModule],
    two_databases: tuple[str, str],
    loop: Loop,
    program: list[tuple[Op, int | None]],
) -> None:
    blocking, asyncio_ = drivers
    ids = Ids()  # a fresh tenant per example: the databases are shared by all examples
    cmds = commands_of(program, ids)
    answers = sync_side(blocking, ids, cmds)
    assert loop.run(async_side(asyncio_, ids, cmds)) == answers
    sync_dsn, async_dsn = two_databases
    rows = stored(sync_dsn, ids.tenant)
    assert rows["events"] or not any(a[0] == "ok" for a in answers[: len(cmds)])
    assert stored(async_dsn, ids.tenant) == rows


def test_the_sequences_reach_errors_replays_and_prunes(
    drivers: tuple[ScriptsModule, AsyncScriptsModule], loop: Loop
) -> None:
    """One fixed sequence shows the comparison covers what matters (not only happy paths)."""
    blocking, asyncio_ = drivers
    ids = Ids()
    program: list[tuple[Op, int | None]] = [
        (("create", 0, ScriptType.HTTP, "a", ["x"]), 0),
        (("create", 0, ScriptType.HTTP, "a", ["x"]), 0),  # replayed by command_id
        (("create", 1, ScriptType.HTTP, "b", []), None),  # RouteConflict
        (("content", 0, "v2", 1), 1),
        (("content", 0, "v3", 1), None),  # ConcurrencyConflict
        (("details", 0, "renamed", None), 1),  # command_id reused for another command
        (("start", 0, 0, None), None),
        (("complete", 0, "completed"), None),
        (("begin", 0), None),  # InvalidTransition
        (("prune", 0, 1), None),
        (("delete", 0, None), None),
        (("content", 0, "gone", None), None),  # NotFound
    ]
    cmds = commands_of(program, ids)
    answers = sync_side(blocking, ids, cmds)
    kinds = [answer[1] for answer in answers[: len(cmds)]]
    assert kinds == [
        "Script", "Script", "RouteConflict", "Script", "ConcurrencyConflict", "Conflict",
        "Execution", "Execution", "InvalidTransition", "PruneResult", "Script", "NotFound",
    ]  # fmt: skip
    assert loop.run(async_side(asyncio_, ids, cmds)) == answers

"""Bad input raises scripts_es errors only (never psycopg's or pydantic's) and writes nothing.

"Writes nothing" is checked independently of the module: the row count of every table of the
schema, read by the DSN's login role (a superuser), before and after each call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pydantic
import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import Execution, Script, ScriptType
from scripts_es.errors import InvalidInput, NotFound, ScriptsError
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.support import pg
from tests.support.commands import create_command
from tests.support.fixtures import open_module
from tests.support.raw import row_counts

MiB = 1024 * 1024


@dataclass
class World:
    dsn: str
    module: ScriptsModule
    t: TenantSession
    http: Script
    cron: Script
    running: Execution

    @property
    def user(self) -> UUID:
        return self.t.session.user_id


@pytest.fixture(scope="module")
def world(pg_server: str, pg_template: str) -> Iterator[World]:
    with pg.throwaway_db(pg_server, pg_template) as dsn, open_module(dsn) as module:
        t = module.tenant(uuid4(), uuid4())
        http = t.handle(create_command(ScriptType.HTTP))
        cron = t.handle(create_command(ScriptType.CRON))
        running = t.handle(c.StartExecution(script_id=http.id, trigger={"type": "api"}))
        yield World(dsn, module, t, http, cron, running)


def create(**fields: Any) -> Callable[[World], Any]:
    type_ = fields.pop("type", ScriptType.ONE_OFF)
    return lambda w: w.t.handle(create_command(type_, **fields))


def cron(**metadata: Any) -> Callable[[World], Any]:
    return create(type=ScriptType.CRON, metadata={"cron_expression": "0 * * * *", **metadata})


def http(**metadata: Any) -> Callable[[World], Any]:
    return create(type=ScriptType.HTTP, metadata={"path": "/fresh", **metadata})


def start(input: Any = None, **fields: Any) -> Callable[[World], Any]:
    fields.setdefault("trigger", {"type": "api"})
    return lambda w: w.t.handle(c.StartExecution(script_id=w.http.id, input=input, **fields))


def complete(**fields: Any) -> Callable[[World], Any]:
    fields.setdefault("status", "completed")
    return lambda w: w.t.handle(c.CompleteExecution(execution_id=w.running.id, **fields))


def log(**entry: Any) -> dict[str, Any]:
    return {"timestamp": "2030-01-01T00:00:00Z", "level": "info", "message": "m", **entry}


def deep(levels: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(levels):
        node["a"] = {}
        node = node["a"]
    return root


def new_script(
    w: World, tenant_id: UUID | None = None, name: str = "x", content: str = "y"
) -> Script:
    """A new one-off script (not stored) of the world's tenant, or of `tenant_id`."""
    return Script.create(
        tenant_id=tenant_id or w.t.session.tenant_id,
        created_by=w.user,
        name=name,
        content=content,
        type="one_off",
        metadata={},
    )


def foreign_script(w: World) -> Script:
    return new_script(w, tenant_id=uuid4())


CASES: list[tuple[str, Callable[[World], Any], type[ScriptsError]]] = [
    # NUL (and lone surrogates) in every text field, on create and on change
    ("nul in name", create(name="bad\x00name"), InvalidInput),
    ("nul in content", create(content="a\x00b"), InvalidInput),
    ("nul in description", create(description="a\x00b"), InvalidInput),
    ("nul in a tag", create(tags=["ok", "a\x00b"]), InvalidInput),
    ("nul in path", http(path="/a\x00b"), InvalidInput),
    ("nul in cron expression", cron(cron_expression="0 * * * *\x00"), InvalidInput),
    ("nul in timezone", cron(timezone="UTC\x00"), InvalidInput),
    ("lone surrogate in name", create(name="a\udc80b"), InvalidInput),
    ("lone surrogate in content", create(content="a\ud800"), InvalidInput),
    (
        "nul in new content",
        lambda w: w.t.handle(c.UpdateScriptContent(script_id=w.http.id, content="\x00")),
        InvalidInput,
    ),
    (
        "nul in new name",
        lambda w: w.t.handle(c.ChangeScriptDetails(script_id=w.http.id, name="a\x00")),
        InvalidInput,
    ),
    (
        "nul in new description",
        lambda w: w.t.handle(c.ChangeScriptDetails(script_id=w.http.id, description="\x00")),
        InvalidInput,
    ),
    (
        "nul in new tags",
        lambda w: w.t.handle(c.ChangeScriptDetails(script_id=w.http.id, tags=["\x00"])),
        InvalidInput,
    ),
    (
        "nul in new path",
        lambda w: w.t.handle(
            c.ChangeScriptMetadata(script_id=w.http.id, metadata={"path": "/\x00"})
        ),
        InvalidInput,
    ),
    # names, descriptions, content, tags
    ("too long name", create(name="n" * 256), InvalidInput),
    ("blank name", create(name=" \t "), InvalidInput),
    ("control character in name", create(name="bell\x07"), InvalidInput),
    ("name not a string", create(name=42), InvalidInput),
    ("too long description", create(description="d" * 4001), InvalidInput),
    ("content over 1 MiB", create(content="x" * (MiB + 1)), InvalidInput),
    ("content over 1 MiB of UTF-8", create(content="é" * (MiB // 2 + 1)), InvalidInput),
    ("33 tags", create(tags=[f"t{i}" for i in range(33)]), InvalidInput),
    ("too long tag", create(tags=["t" * 65]), InvalidInput),
    ("blank tag", create(tags=["  "]), InvalidInput),
    ("tags as a string", create(tags="a,b"), InvalidInput),
    (
        "unknown script type",
        lambda w: w.t.handle(c.CreateScript(name="x", content="y", type="python")),
        InvalidInput,
    ),
    # metadata
    ("invalid cron: minute 61", cron(cron_expression="61 * * * *"), InvalidInput),
    ("invalid cron: step 0", cron(cron_expression="*/0 * * * *"), InvalidInput),
    ("invalid cron: 4 fields", cron(cron_expression="* * * *"), InvalidInput),
    ("invalid cron: 6 fields", cron(cron_expression="0 * * * * *"), InvalidInput),
    ("invalid cron: words", cron(cron_expression="every day"), InvalidInput),
    ("invalid cron: February 31", cron(cron_expression="0 0 31 2 *"), InvalidInput),
    ("missing cron expression", create(type=ScriptType.CRON, metadata={}), InvalidInput),
    ("unknown timezone", cron(timezone="Mars/Olympus_Mons"), InvalidInput),
    ("empty timezone", cron(timezone=""), InvalidInput),
    ("bad method", http(method="FETCH"), InvalidInput),
    ("method with blanks", http(method=" get"), InvalidInput),
    ("path without slash", http(path="hooks"), InvalidInput),
    ("path with whitespace", http(path="/a b"), InvalidInput),
    ("path too long", http(path="/" + "p" * 2048), InvalidInput),
    ("http script without path", create(type=ScriptType.HTTP, metadata={}), InvalidInput),
    ("one_off with http metadata", create(metadata={"path": "/x"}), InvalidInput),
    (
        "http with cron metadata",
        create(type=ScriptType.HTTP, metadata={"kind": "cron", "cron_expression": "* * * * *"}),
        InvalidInput,
    ),
    (
        "cron script given http metadata",
        lambda w: w.t.handle(c.ChangeScriptMetadata(script_id=w.cron.id, metadata={"path": "/x"})),
        InvalidInput,
    ),
    (
        "metadata not an object",
        lambda w: w.t.handle(c.ChangeScriptMetadata(script_id=w.http.id, metadata="/x")),
        InvalidInput,
    ),
    # execution input
    ("input over 1 MiB", start({"x": "a" * MiB}), InvalidInput),
    ("input with NaN", start({"x": math.nan}), InvalidInput),
    ("input with infinity", start({"x": -math.inf}), InvalidInput),
    ("input with an object", start({"x": object()}), InvalidInput),
    ("input with bytes", start({"x": b"raw"}), InvalidInput),
    ("input with a set", start({"x": {1, 2}}), InvalidInput),
    ("input with a datetime", start({"x": datetime(2030, 1, 1)}), InvalidInput),
    ("input with a 65-bit integer", start({"x": 2**64}), InvalidInput),
    ("input nested 300 deep", start(deep(300)), InvalidInput),
    ("input with a non-string key", start({1: "x"}), InvalidInput),
    ("input with a NUL key", start({"a\x00": 1}), InvalidInput),
    ("input with a NUL value", start({"a": ["\x00"]}), InvalidInput),
    ("input that is JSON text", start('{"a": 1}'), InvalidInput),
    ("input that is a list", start([1, 2]), InvalidInput),
    ("manual trigger without user", start(trigger={"type": "manual"}), InvalidInput),
    ("unknown trigger type", start(trigger={"type": "webhook"}), InvalidInput),
    # execution results
    ("output over 1 MiB", complete(result={"output": "o" * (MiB + 1)}), InvalidInput),
    ("error over 64 KiB", complete(result={"error": "e" * (64 * 1024 + 1)}), InvalidInput),
    ("10001 log entries", complete(result={"logs": [log()] * 10_001}), InvalidInput),
    ("unknown log level", complete(result={"logs": [log(level="fatal")]}), InvalidInput),
    (
        "naive log timestamp",
        complete(result={"logs": [log(timestamp="2030-01-01T00:00")]}),
        InvalidInput,
    ),
    ("nul in log message", complete(result={"logs": [log(message="\x00")]}), InvalidInput),
    ("nul in output", complete(result={"output": "\x00"}), InvalidInput),
    ("unknown result field", complete(result={"stdout": "x"}), InvalidInput),
    ("complete as running", complete(status="running"), InvalidInput),
    ("complete as unknown status", complete(status="done"), InvalidInput),
    # ids
    (
        "non-UUID script id",
        lambda w: w.t.handle(c.UpdateScriptContent(script_id="not-a-uuid", content="x")),
        InvalidInput,
    ),
    (
        "integer script id",
        lambda w: w.t.handle(c.DeleteScript(script_id=42)),
        InvalidInput,
    ),
    (
        "non-UUID execution id",
        lambda w: w.t.handle(c.BeginExecution(execution_id="exec-1")),
        InvalidInput,
    ),
    ("find_by_id with a string", lambda w: w.t.scripts.find_by_id(str(w.http.id)), InvalidInput),
    ("find_by_id with None", lambda w: w.t.scripts.find_by_id(None), InvalidInput),
    ("history of a non-UUID", lambda w: w.t.scripts.get_version_history("x"), InvalidInput),
    ("time travel of a non-UUID", lambda w: w.t.scripts.get_version("x", 1), InvalidInput),
    ("delete a non-UUID", lambda w: w.t.scripts.delete("x"), InvalidInput),
    ("execution by a non-UUID", lambda w: w.t.executions.find_by_id(7), InvalidInput),
    ("executions of a non-UUID", lambda w: w.t.executions.find_for_script("x"), InvalidInput),
    ("tenant id not a UUID", lambda w: w.module.tenant("acme", w.user), InvalidInput),
    ("user id not a UUID", lambda w: w.module.tenant(uuid4(), "bob"), InvalidInput),
    # versions
    ("get_version(0)", lambda w: w.t.scripts.get_version(w.http.id, 0), InvalidInput),
    ("get_version(-1)", lambda w: w.t.scripts.get_version(w.http.id, -1), InvalidInput),
    ("get_version(True)", lambda w: w.t.scripts.get_version(w.http.id, True), InvalidInput),
    ("get_version('1')", lambda w: w.t.scripts.get_version(w.http.id, "1"), InvalidInput),
    ("get_version(1.0)", lambda w: w.t.scripts.get_version(w.http.id, 1.0), InvalidInput),
    (
        "get_version above the current one",
        lambda w: w.t.scripts.get_version(w.http.id, w.http.version + 1),
        NotFound,
    ),
    ("get_version far above", lambda w: w.t.scripts.get_version(w.http.id, 2**70), NotFound),
    (
        "expected_version 0",
        lambda w: w.t.handle(c.EnableScript(script_id=w.http.id, expected_version=0)),
        InvalidInput,
    ),
    ("expected_version on a create", create(expected_version=1), InvalidInput),
    # not a command, not an aggregate the repository may take
    ("a dict instead of a command", lambda w: w.t.handle({"name": "x"}), InvalidInput),
    ("None instead of a command", lambda w: w.t.handle(None), InvalidInput),
    ("a script instead of a command", lambda w: w.t.handle(w.http), InvalidInput),
    ("unknown command field", create(owner="mallory"), InvalidInput),
    ("a script for another tenant", lambda w: w.t.scripts.create(foreign_script(w)), InvalidInput),
    (
        "an execution for another tenant",
        lambda w: w.t.executions.create(
            Execution.start(
                script=w.http.model_copy(update={"tenant_id": uuid4()}), trigger={"type": "api"}
            )
        ),
        InvalidInput,
    ),
    (
        "create with a loaded script",
        lambda w: w.t.scripts.create(w.t.scripts.find_by_id(w.http.id)),
        InvalidInput,
    ),
    (
        "update with a new script",
        lambda w: w.t.scripts.update(new_script(w, name="new", content="x")),
        InvalidInput,
    ),
    # find parameters
    ("limit 0", lambda w: w.t.scripts.find(ScriptFindParams(limit=0)), InvalidInput),
    ("limit 1001", lambda w: w.t.scripts.find(ScriptFindParams(limit=1001)), InvalidInput),
    ("negative offset", lambda w: w.t.scripts.count(ScriptFindParams(offset=-1)), InvalidInput),
    (
        "sort by content",
        lambda w: w.t.scripts.find(ScriptFindParams(sort=[("content", "asc")])),
        InvalidInput,
    ),
    ("nul in search", lambda w: w.t.scripts.find(ScriptFindParams(search="\x00")), InvalidInput),
    (
        "naive updated_after",
        lambda w: w.t.scripts.find(ScriptFindParams(updated_after=datetime(2030, 1, 1))),
        InvalidInput,
    ),
    (
        "unknown execution status filter",
        lambda w: w.t.executions.find_for_script(w.http.id, ExecutionFindParams(status="done")),
        InvalidInput,
    ),
]


def _check(world: World, call: Callable[[World], Any], expected: type[ScriptsError]) -> None:
    before = row_counts(world.dsn)
    with pytest.raises(ScriptsError) as info:
        call(world)
    assert not isinstance(info.value, psycopg.Error | pydantic.ValidationError)
    assert type(info.value) is expected, repr(info.value)
    assert row_counts(world.dsn) == before


@pytest.mark.parametrize(("label", "call", "expected"), CASES, ids=[case[0] for case in CASES])
def test_bad_input_raises_a_scripts_error_and_writes_nothing(
    world: World, label: str, call: Callable[[World], Any], expected: type[ScriptsError]
) -> None:
    _check(world, call, expected)


def test_invalid_input_names_the_offending_field(world: World) -> None:
    expectations = {
        "name": create(name="n" * 256),
        "content": create(content="\x00"),
        "description": create(description="\x00"),
        "tags": create(tags=["\x00"]),
        "metadata.path": http(path="x"),
        "metadata.method": http(method="FETCH"),
        "metadata.cron_expression": cron(cron_expression="61 * * * *"),
        "metadata.timezone": cron(timezone="Nowhere/Land"),
        "input": start({"x": math.nan}),
        "version": lambda w: w.t.scripts.get_version(w.http.id, 0),
    }
    for field, call in expectations.items():
        with pytest.raises(InvalidInput) as info:
            call(world)
        assert info.value.field == field, info.value


def test_the_world_is_untouched_by_all_that_bad_input(world: World) -> None:
    t = world.t
    assert t.scripts.find_by_id(world.http.id) == world.http
    assert t.scripts.find_by_id(world.cron.id) == world.cron
    assert t.executions.find_by_id(world.running.id) == world.running
    assert t.scripts.count() == 2


NOT_MODELS: list[tuple[str, Callable[[World], Any]]] = [
    ("find with a dict", lambda w: w.t.scripts.find({"limit": 5})),
    ("count with a dict", lambda w: w.t.scripts.count({"type": "http"})),
    ("find_for_script with a dict", lambda w: w.t.executions.find_for_script(w.http.id, {})),
    ("create None", lambda w: w.t.scripts.create(None)),
    ("create a dict", lambda w: w.t.scripts.create({"name": "x"})),
    ("update None", lambda w: w.t.scripts.update(None)),
    (
        "create a script as an execution",
        lambda w: w.t.executions.create(new_script(w)),
    ),
]


@pytest.mark.parametrize(("label", "call"), NOT_MODELS, ids=[case[0] for case in NOT_MODELS])
def test_a_repository_given_something_else_than_its_model_raises_invalid_input(
    world: World, label: str, call: Callable[[World], Any]
) -> None:
    _check(world, call, InvalidInput)

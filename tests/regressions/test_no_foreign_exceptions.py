"""Issue 9, cause 6: only scripts_es errors escape, whatever a caller hands in.

Values outside what Python's datetimes, the JSON encoder or PostgreSQL's bigint can take used to
escape as OverflowError or TypeError. Every user-reachable number is bounded now (days by
`validation.MAX_DAYS`, versions, counts and offsets by `validation.MAX_BIGINT`) and a datetime
whose UTC conversion overflows is InvalidInput naming the field.

The reproductions from the issue come first; then Hypothesis throws hostile values at every field
of every command (through `t.handle`), of both find-parameter models (through find, count and
find_for_script) and of VersionRetentionPolicy, and checks that any exception is a ScriptsError.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.cli import cli
from scripts_es.domain import (
    ExecutionStatus,
    LogEntry,
    ScriptType,
    VersionRetentionPolicy,
)
from scripts_es.domain.validation import MAX_BIGINT, MAX_DAYS
from scripts_es.errors import InvalidInput, ScriptsError
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.support import pg
from tests.support.commands import create_command

PLUS_5 = timezone(timedelta(hours=5))
MINUS_5 = timezone(timedelta(hours=-5))


# -- the reproductions ---------------------------------------------------------------------------


@dataclass
class World:
    module: ScriptsModule
    t: TenantSession

    def script(self, type_: ScriptType = ScriptType.ONE_OFF) -> UUID:
        return self.t.handle(create_command(type_, name=f"s-{uuid4()}")).id  # type: ignore[no-any-return]

    def execution(self, script_id: UUID) -> UUID:
        started = self.t.handle(c.StartExecution(script_id=script_id, trigger={"type": "api"}))
        return started.id  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def world(pg_server: str, pg_template: str) -> Iterator[World]:
    with (
        pg.throwaway_db(pg_server, pg_template) as dsn,
        ScriptsModule.open(dsn, install=False) as module,
    ):
        yield World(module, module.tenant(uuid4(), uuid4()))


def invalid(field: str, call: Callable[[], object]) -> InvalidInput:
    with pytest.raises(InvalidInput) as raised:
        call()
    assert raised.value.field == field, raised.value
    return raised.value


def test_a_find_date_before_year_1_in_utc_is_invalid_input(world: World) -> None:
    early = datetime(1, 1, 1, tzinfo=PLUS_5)
    invalid("updated_after", lambda: world.t.scripts.count(ScriptFindParams(updated_after=early)))


def test_a_find_date_after_year_9999_in_utc_is_invalid_input(world: World) -> None:
    late = datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_5)
    script_id = world.script()
    error = invalid(
        "started_before",
        lambda: world.t.executions.find_for_script(
            script_id, ExecutionFindParams(started_before=late)
        ),
    )
    assert "UTC" in error.message  # says what to fix


def test_a_log_timestamp_before_year_1_in_utc_is_invalid_input() -> None:
    invalid(
        "timestamp",
        lambda: LogEntry(timestamp="0001-01-01T00:00:00+05:00", level="info", message="m"),
    )


def test_the_first_and_last_utc_instants_are_fine(world: World) -> None:
    first = datetime(1, 1, 1, tzinfo=UTC)
    last = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
    assert world.t.scripts.count(ScriptFindParams(updated_after=first, updated_before=last)) >= 0


def test_a_retention_of_a_million_days_is_invalid_input(world: World) -> None:
    invalid("retention_days", lambda: VersionRetentionPolicy(retention_days=10**6))
    policy = VersionRetentionPolicy(retention_days=MAX_DAYS)  # the bound itself is fine
    assert world.t.scripts.prune_version_history(world.script(), policy).removed == 0


def test_pruning_executions_older_than_a_million_days_is_invalid_input(world: World) -> None:
    invalid("older_than_days", lambda: world.t.executions.prune(10**6))
    invalid("keep_last_per_script", lambda: world.t.executions.prune(1, 2**70))
    invalid("older_than_days", lambda: world.module.prune_executions(10**6))
    assert world.t.executions.prune(MAX_DAYS, MAX_BIGINT) == 0


def test_integers_beyond_bigint_are_invalid_input(world: World) -> None:
    script_id = world.script()
    invalid("max_versions", lambda: c.PruneScriptHistory(script_id=script_id, max_versions=2**70))
    invalid(
        "expected_version",
        lambda: c.UpdateScriptContent(script_id=script_id, content="y", expected_version=2**63),
    )
    invalid("offset", lambda: ScriptFindParams(offset=2**63))
    invalid("offset", lambda: ExecutionFindParams(offset=2**63))
    pruned = world.t.handle(
        c.PruneScriptHistory(script_id=script_id, max_versions=MAX_BIGINT, command_id=uuid4())
    )
    assert pruned.removed == 0
    assert world.t.scripts.find(ScriptFindParams(offset=MAX_BIGINT)) == []


def test_an_operator_prune_for_a_tenant_that_is_no_uuid_is_invalid_input(world: World) -> None:
    policy = VersionRetentionPolicy(max_versions=1)
    invalid("tenant_id", lambda: world.module.prune_scripts(policy, tenant_id="nope"))  # type: ignore[arg-type]
    invalid("tenant_id", lambda: world.module.prune_executions(1, tenant_id=12))  # type: ignore[arg-type]


def test_a_search_longer_than_any_name_or_description_is_invalid_input() -> None:
    invalid("search", lambda: ScriptFindParams(search="x" * 4_001))


@pytest.mark.parametrize(
    "argv",
    [
        ["prune", "scripts", "--retention-days", "1000000"],
        ["prune", "scripts", "--max-versions", str(2**70)],
        ["prune", "executions", "--older-than-days", "1000000"],
        ["prune", "executions", "--older-than-days", "1", "--keep-last", str(2**70)],
    ],
    ids=" ".join,
)
def test_the_cli_refuses_out_of_range_numbers_as_a_usage_error(
    capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code = cli([*argv, "--dsn", "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=1"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    assert f"Invalid value for '{argv[-2]}'" in err  # names the option to fix


# -- hostile values everywhere -------------------------------------------------------------------

HUGE_TEXT = ["x" * (1024 * 1024 + 1), "é" * 600_000, "\U0001f600" * 300_000, " " * 5_000]
EXTREME_MOMENTS = [
    datetime(1, 1, 1, tzinfo=PLUS_5),
    datetime(9999, 12, 31, 23, 59, tzinfo=MINUS_5),
    datetime.min,
    datetime.max,
    datetime.min.replace(tzinfo=UTC),
    datetime.max.replace(tzinfo=UTC),
    datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=23, minutes=59))),
    datetime(9999, 12, 31, 23, 59, tzinfo=timezone(-timedelta(hours=23, minutes=59))),
]
EXTREME_TEXT_MOMENTS = [
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
]
offsets = st.integers(-1439, 1439).map(lambda m: timezone(timedelta(minutes=m)))

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(-(2**80), 2**80),
    st.sampled_from([0, -1, 1, 2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**70, 10**6, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e300, -0.0, 1.5])
    | st.sampled_from([Decimal("NaN"), Decimal("1e400"), 3 + 4j]),
    st.datetimes(),  # naive, anywhere in 1..9999
    st.datetimes(timezones=offsets),
    st.sampled_from(EXTREME_MOMENTS),
    st.sampled_from(EXTREME_TEXT_MOMENTS),
    st.text(),
    st.text(st.characters(exclude_categories=())),  # surrogates and NUL included
    st.sampled_from(["\x00", "a\x00b", "\ud800", "\udfff", "", " ", "\n", "9" * 5_000]),
    st.sampled_from(HUGE_TEXT),
    st.binary(max_size=8),
    st.uuids(),
    st.uuids().map(str),
    st.just(object()),
    st.sampled_from([int, str, Ellipsis, NotImplemented]),
    st.timedeltas(),
)
junk = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.tuples(inner, inner),
        st.frozensets(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=4), inner, max_size=3),
        st.dictionaries(
            st.one_of(st.integers(), st.none(), st.text(max_size=2)), inner, max_size=2
        ),
    ),
    max_leaves=8,
)

# Hostile values of the right type and shape reach deeper than junk of the wrong one does.
edge_ints = st.sampled_from(
    [0, 1, 2, 3, MAX_DAYS, MAX_DAYS + 1, MAX_BIGINT, MAX_BIGINT + 1, 2**64, -1, -(2**63)]
) | st.integers(-(2**65), 2**65)
texts = st.one_of(
    st.text(max_size=20),
    st.text(st.characters(exclude_categories=()), max_size=20),
    st.sampled_from(["", " ", "\x00", "\ud800", "%", "_", "\\", "'; --", "İ", "ΟΔΟΣ"]),
    st.sampled_from(HUGE_TEXT),
    st.integers(1, 300).map(lambda n: "n" * n),
    st.integers(3_990, 4_010).map(lambda n: "d" * n),
)
moments = st.one_of(
    st.datetimes(timezones=offsets),
    st.sampled_from(EXTREME_MOMENTS),
    st.sampled_from(EXTREME_TEXT_MOMENTS),
    st.datetimes(timezones=offsets).map(datetime.isoformat),
)
json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    edge_ints,
    st.floats(allow_nan=True, allow_infinity=True),
    texts,
)
json_like = st.recursive(
    json_leaves,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=10,
)


def nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"k": value}
    return value


deep_inputs = st.sampled_from([98, 99, 100, 101, 300, 1_000]).map(nested)
tags = st.lists(texts, max_size=40)
sort_keys = st.sampled_from(
    ["name", "created_at", "updated_at", "version", "started_at", "completed_at", "duration", "id"]
)
sorts = st.lists(
    st.tuples(sort_keys | texts, st.sampled_from(["asc", "desc", "ASC", "up"]) | texts)
    | st.tuples(sort_keys),
    max_size=4,
)
levels = st.sampled_from(["debug", "info", "warning", "error", "fatal"])
log_entries = st.fixed_dictionaries(
    {"timestamp": moments | junk, "level": levels | junk, "message": texts | junk}
)

PLAUSIBLE: dict[str, Any] = {
    "name": texts,
    "content": texts,
    "description": texts,
    "search": texts,
    "type": st.sampled_from(["cron", "http", "one_off", "embedded", "bash"]) | texts,
    "status": st.sampled_from(["pending", "running", "completed", "failed", "timeout"]) | texts,
    "trigger_type": st.sampled_from(["manual", "cron", "api", "webhook"]) | texts,
    "enabled": st.booleans() | st.sampled_from(["yes", 2, 1.0]),
    "expected_version": edge_ints,
    "max_versions": edge_ints,
    "retention_days": edge_ints,
    "limit": edge_ints,
    "offset": edge_ints,
    "updated_after": moments,
    "updated_before": moments,
    "started_after": moments,
    "started_before": moments,
    "tags": tags,
    "tags_any": tags,
    "tags_all": tags,
    "sort": sorts,
    "metadata": st.one_of(
        st.fixed_dictionaries({"cron_expression": texts | junk, "timezone": texts | junk}),
        st.fixed_dictionaries({"path": texts | junk, "method": texts | junk}),
        st.fixed_dictionaries({"kind": texts | junk}),
        st.dictionaries(texts, json_like, max_size=3),
    ),
    "trigger": st.fixed_dictionaries(
        {"type": st.sampled_from(["manual", "cron", "api"]) | junk},
        optional={"triggered_by": st.uuids() | junk},
    ),
    "result": st.fixed_dictionaries(
        {},
        optional={
            "output": texts | junk,
            "error": texts | junk,
            "logs": st.lists(log_entries | junk, max_size=3)
            | st.sampled_from([10_000, 10_001]).map(
                lambda n: (
                    [{"timestamp": "2024-01-01T00:00:00Z", "level": "info", "message": ""}] * n
                )
            ),
        },
    ),
    "input": st.dictionaries(texts, json_like, max_size=4) | deep_inputs | json_like,
}
COMMANDS = [
    cls
    for _, cls in inspect.getmembers(c, inspect.isclass)
    if issubclass(cls, c.Command) and cls is not c.Command
]


def hostile(field: str) -> st.SearchStrategy[Any]:
    """Junk of any type, or (more often) a hostile value of the field's own type and shape."""
    plausible = PLAUSIBLE.get(field)
    return junk if plausible is None else st.one_of(junk, plausible, plausible)


def valid_fields(cls: type[Any], world: World) -> dict[str, Any]:
    """Fields that make a command succeed on fresh aggregates, so hostile ones reach deep."""
    script_type = ScriptType.CRON if cls is c.ChangeScriptMetadata else ScriptType.ONE_OFF
    fields: dict[str, Any] = {}
    if "script_id" in cls.model_fields and cls is not c.CreateScript:
        fields["script_id"] = world.script(script_type)
    if "execution_id" in cls.model_fields and cls not in (c.StartExecution, c.EnqueueExecution):
        queued = world.t.handle(
            c.EnqueueExecution(script_id=world.script(), trigger={"type": "api"})
        )
        fields["execution_id"] = queued.id
    extra: dict[type[Any], dict[str, Any]] = {
        c.CreateScript: {"name": "fuzzed", "content": "x", "type": "one_off"},
        c.UpdateScriptContent: {"content": "new"},
        c.ChangeScriptMetadata: {"metadata": {"cron_expression": "5 * * * *"}},
        c.ChangeScriptDetails: {"name": "renamed"},
        c.StartExecution: {"trigger": {"type": "api"}},
        c.EnqueueExecution: {"trigger": {"type": "api"}},
        c.CompleteExecution: {"status": ExecutionStatus.COMPLETED},
        c.PruneScriptHistory: {"max_versions": 1},
    }
    fields.update(extra.get(cls, {}))
    return fields


def only_ours(call: Callable[[], object]) -> None:
    """Run `call`; anything it raises other than a ScriptsError (OverflowError, TypeError,
    pydantic's or psycopg's errors, ...) fails the test."""
    with contextlib.suppress(ScriptsError):
        call()


# Modest counts in `make test`; SCRIPTS_ES_FUZZ_SCALE=50 (say) explores 50 times as many.
SCALE = int(os.environ.get("SCRIPTS_ES_FUZZ_SCALE", "1"))
FUZZ = settings(
    max_examples=25 * SCALE,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@pytest.mark.parametrize("cls", COMMANDS, ids=lambda cls: cls.__name__)
def test_hostile_values_in_any_command_field_raise_only_scripts_errors(
    world: World, cls: type[c.Command]
) -> None:
    names = sorted(cls.model_fields)

    @FUZZ
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        fields = valid_fields(cls, world)
        for name in data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=3)):
            fields[name] = data.draw(hostile(name), label=name)
        if data.draw(st.booleans(), label="command_id"):
            fields["command_id"] = uuid4()
        if data.draw(st.integers(0, 9), label="unknown field") == 0:
            fields[data.draw(st.text(max_size=5))] = data.draw(junk)
        only_ours(lambda: world.t.handle(cls(**fields)))

    check()


def test_hostile_values_in_script_find_params_raise_only_scripts_errors(world: World) -> None:
    names = sorted(ScriptFindParams.model_fields)

    @settings(FUZZ, max_examples=120 * SCALE)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        fields = {
            name: data.draw(hostile(name), label=name)
            for name in data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=3))
        }

        def find_and_count() -> None:
            params = ScriptFindParams(**fields)
            world.t.scripts.find(params)
            world.t.scripts.count(params)

        only_ours(find_and_count)
        only_ours(lambda: world.t.scripts.find(data.draw(junk, label="params")))
        only_ours(lambda: world.t.scripts.count(data.draw(junk, label="params")))

    check()


def test_hostile_values_in_execution_find_params_raise_only_scripts_errors(world: World) -> None:
    names = sorted(ExecutionFindParams.model_fields)
    script_id = world.script()
    world.execution(script_id)

    @settings(FUZZ, max_examples=80 * SCALE)
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        fields = {
            name: data.draw(hostile(name), label=name)
            for name in data.draw(st.sets(st.sampled_from(names), min_size=1, max_size=3))
        }
        only_ours(
            lambda: world.t.executions.find_for_script(script_id, ExecutionFindParams(**fields))
        )
        only_ours(
            lambda: world.t.executions.find_for_script(
                data.draw(junk, label="script_id"), data.draw(junk, label="params")
            )
        )

    check()


def test_hostile_retention_values_raise_only_scripts_errors(world: World) -> None:
    script_id = world.script()
    for n in range(3):
        world.t.handle(c.UpdateScriptContent(script_id=script_id, content=f"v{n}"))

    @settings(FUZZ, max_examples=60 * SCALE)
    @given(
        max_versions=hostile("max_versions"),
        retention_days=hostile("retention_days"),
        older=hostile("retention_days"),
        keep=hostile("offset"),
        version=hostile("expected_version"),
    )
    def check(max_versions: Any, retention_days: Any, older: Any, keep: Any, version: Any) -> None:
        def prune_history() -> None:
            policy = VersionRetentionPolicy(
                max_versions=max_versions, retention_days=retention_days
            )
            world.t.scripts.prune_version_history(script_id, policy, dry_run=True)
            world.module.prune_scripts(policy, dry_run=True)

        only_ours(prune_history)
        only_ours(lambda: world.t.executions.prune(older, keep))
        only_ours(
            lambda: world.module.prune_executions(older, keep_last_per_script=keep, tenant_id=keep)
        )
        only_ours(lambda: world.t.scripts.get_version(script_id, version))
        only_ours(lambda: world.t.scripts.prune_version_history(script_id, max_versions))

    check()


def test_the_fuzzer_covers_every_command() -> None:
    expected = {name for name, obj in vars(c).items() if isinstance(obj, type)}
    expected = {n for n in expected if issubclass(getattr(c, n), c.Command) and n != "Command"}
    assert {cls.__name__ for cls in COMMANDS} == expected
    assert len(COMMANDS) >= 12

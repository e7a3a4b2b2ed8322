"""VersionRetentionPolicy.horizon (DESIGN §5) and the command and query models' input rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scripts_es import commands as c
from scripts_es.domain import VersionRetentionPolicy
from scripts_es.errors import InvalidInput
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.unit.helpers import rejects

NOW = datetime(2024, 6, 1, 12, tzinfo=UTC)
limits = st.none() | st.integers(1, 12)


def reference_horizon(
    max_versions: int | None, retention_days: int | None, stamps: dict[int, datetime], current: int
) -> int:
    """DESIGN §5 read literally: the smallest version that is retained."""

    def retained(version: int) -> bool:
        if version == current:
            return True
        if max_versions is not None and not version > current - max_versions:
            return False
        too_old = retention_days is not None and NOW - stamps[version] > timedelta(retention_days)
        return not too_old

    return min(v for v in [*stamps, current] if retained(v))


@st.composite
def histories(draw: st.DrawFn) -> tuple[dict[int, datetime], int]:
    """Stored versions first..current (older ones may be pruned already) and their times."""
    current = draw(st.integers(1, 40))
    first = draw(st.integers(1, current))
    ages = st.tuples(st.integers(0, 20), st.sampled_from([0, 0, 1, -1, 3600, -3600]))
    stamps = {
        version: NOW - timedelta(days=days, seconds=seconds)
        for version in range(first, current + 1)
        for days, seconds in [draw(ages)]
    }
    if draw(st.booleans()):  # events are appended in time order, usually
        ordered = sorted(stamps.values())
        stamps = dict(zip(stamps, ordered, strict=True))
    return stamps, current


@given(history=histories(), max_versions=limits, retention_days=limits)
def test_the_horizon_is_the_smallest_retained_version(
    history: tuple[dict[int, datetime], int], max_versions: int | None, retention_days: int | None
) -> None:
    stamps, current = history
    policy = VersionRetentionPolicy(max_versions=max_versions, retention_days=retention_days)
    horizon = policy.horizon(stamps, current, NOW)
    assert horizon == reference_horizon(max_versions, retention_days, stamps, current)
    assert min(stamps) <= horizon <= current
    kept = {v: t for v, t in stamps.items() if v >= horizon}
    assert policy.horizon(kept, current, NOW) == horizon  # pruning again removes nothing


@given(history=histories(), tight=st.integers(1, 12), loose=st.integers(0, 12))
def test_keeping_fewer_versions_never_moves_the_horizon_back(
    history: tuple[dict[int, datetime], int], tight: int, loose: int
) -> None:
    stamps, current = history
    few = VersionRetentionPolicy(max_versions=tight).horizon(stamps, current, NOW)
    more = VersionRetentionPolicy(max_versions=tight + loose).horizon(stamps, current, NOW)
    assert more <= few


def test_an_event_exactly_retention_days_old_is_retained_and_a_moment_older_is_not() -> None:
    policy = VersionRetentionPolicy(retention_days=7)
    stamps = {1: NOW - timedelta(days=7, microseconds=1), 2: NOW - timedelta(days=7), 3: NOW}
    assert policy.horizon(stamps, 3, NOW) == 2


def test_without_limits_every_stored_version_is_retained() -> None:
    stamps = {v: NOW - timedelta(days=1000) for v in range(3, 9)}
    assert VersionRetentionPolicy().horizon(stamps, 8, NOW) == 3
    assert VersionRetentionPolicy(max_versions=1, retention_days=1).horizon(stamps, 8, NOW) == 8


@pytest.mark.parametrize("field", ["max_versions", "retention_days"])
@given(bad=st.integers(max_value=0))
def test_retention_limits_below_one_are_rejected(field: str, bad: int) -> None:
    rejects(field, lambda: VersionRetentionPolicy(**{field: bad}))
    rejects(field, lambda: c.PruneScriptHistory(script_id=uuid4(), **{field: bad}))


# -- query parameters --------------------------------------------------------------------


@given(limit=st.integers(1, 1000), offset=st.integers(0, 10**6))
def test_find_params_accept_limits_up_to_1000_and_any_offset(limit: int, offset: int) -> None:
    assert ScriptFindParams(limit=limit, offset=offset).limit == limit
    assert ExecutionFindParams(limit=limit, offset=offset).offset == offset


@pytest.mark.parametrize("params", [ScriptFindParams, ExecutionFindParams])
@given(limit=st.integers(1001) | st.integers(max_value=0), offset=st.integers(max_value=-1))
def test_find_params_reject_limits_over_1000_or_below_1_and_negative_offsets(
    params: Any, limit: int, offset: int
) -> None:
    rejects("limit", lambda: params(limit=limit))
    rejects("offset", lambda: params(offset=offset))


def test_script_find_params_normalise_their_tag_filters_like_script_tags() -> None:
    params = ScriptFindParams(tags_any=[" Ops", "ops", "DB "], tags_all=["X"])
    assert (params.tags_any, params.tags_all) == (("ops", "db"), ("x",))
    rejects("tags_any", lambda: ScriptFindParams(tags_any=["  "]))
    rejects("tags_all", lambda: ScriptFindParams(tags_all="ops"))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("type", "bash"),
        ("enabled", "sometimes"),
        ("created_by", "not-a-uuid"),
        ("updated_after", datetime(2024, 1, 1)),
        ("updated_before", datetime(2024, 1, 1)),
        ("sort", [("content", "asc")]),
        ("sort", [("name", "up")]),
        ("search", "a\x00b"),
        ("colour", "red"),
    ],
)
def test_script_find_params_reject_bad_filters_naming_them(field: str, value: Any) -> None:
    rejects(field, lambda: ScriptFindParams(**{field: value}))


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("status", "done"),
        ("trigger_type", "webhook"),
        ("started_after", datetime(2024, 1, 1)),
        ("started_before", datetime(2024, 1, 1)),
        ("sort", [("name", "asc")]),
    ],
)
def test_execution_find_params_reject_bad_filters_naming_them(field: str, value: Any) -> None:
    rejects(field, lambda: ExecutionFindParams(**{field: value}))


def test_sort_orders_are_accepted_as_json_lists() -> None:
    sort = [["name", "asc"], ["version", "desc"]]
    assert ScriptFindParams.parse({"sort": sort}).sort == (("name", "asc"), ("version", "desc"))


# -- commands ----------------------------------------------------------------------------

ID = str(uuid4())
COMMANDS: list[tuple[type[c.Command], dict[str, Any]]] = [
    (c.CreateScript, {"name": "n", "content": "", "type": "cron", "metadata": {"x": 1}}),
    (c.UpdateScriptContent, {"script_id": ID, "content": "x"}),
    (c.ChangeScriptMetadata, {"script_id": ID, "metadata": {}}),
    (c.ChangeScriptDetails, {"script_id": ID, "tags": ["a"]}),
    (c.EnableScript, {"script_id": ID}),
    (c.DisableScript, {"script_id": ID}),
    (c.DeleteScript, {"script_id": ID}),
    (c.StartExecution, {"script_id": ID, "trigger": {"type": "manual", "triggered_by": ID}}),
    (c.EnqueueExecution, {"script_id": ID, "trigger": {"type": "api"}, "input": {"a": 1}}),
    (c.BeginExecution, {"execution_id": ID}),
    (c.CompleteExecution, {"execution_id": ID, "status": "failed", "result": {"error": "x"}}),
    (c.PruneScriptHistory, {"script_id": ID, "max_versions": 3}),
]


@pytest.mark.parametrize(("command", "fields"), COMMANDS, ids=lambda x: getattr(x, "__name__", ""))
def test_commands_take_plain_json_and_round_trip(
    command: type[c.Command], fields: dict[str, Any]
) -> None:
    parsed = command.parse({**fields, "command_id": ID, "expected_version": 4})
    assert command.model_validate_json(parsed.model_dump_json()) == parsed
    with pytest.raises(Exception):  # frozen
        parsed.expected_version = 5  # type: ignore[misc]
    rejects("expected_version", lambda: command.parse({**fields, "expected_version": 0}))
    rejects("command_id", lambda: command.parse({**fields, "command_id": "nope"}))
    rejects("surprise", lambda: command.parse({**fields, "surprise": True}))


@pytest.mark.parametrize(
    ("command", "fields", "field"),
    [
        (c.CreateScript, {"name": "n", "content": "", "type": "bash"}, "type"),
        (c.UpdateScriptContent, {"script_id": "42", "content": "x"}, "script_id"),
        # a nested field is named by its path: "trigger.type"
        (c.StartExecution, {"script_id": ID, "trigger": {"type": "webhook"}}, "type"),
        (c.CompleteExecution, {"execution_id": ID, "status": "running"}, "status"),
        (c.CompleteExecution, {"execution_id": ID, "status": "pending"}, "status"),
    ],
)
def test_commands_reject_bad_fields_naming_them(
    command: Any, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput):
        command.parse(fields)
    rejects(field, lambda: command.parse(fields))

"""DESIGN §3 rules for execution values, and the NUL rule across every text field."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_es.domain import (
    CronMetadata,
    Execution,
    ExecutionResult,
    ExecutionTrigger,
    HTTPMetadata,
    LogEntry,
)
from scripts_es.domain.runs import execution_input
from scripts_es.errors import InvalidInput
from scripts_es.queries import ScriptFindParams
from tests.support import strategies as s
from tests.unit.helpers import exactly_n_bytes, rejects
from tests.unit.helpers import new_script as create

BIG = settings(max_examples=5, deadline=None)
MIB, KIB = 1024 * 1024, 1024  # DESIGN's numbers, not the code's constants
NOW = datetime(2024, 5, 6, 7, 8, 9, tzinfo=UTC)
json_text_chars = s.printable_chars.filter(lambda c: c not in '"\\')


def entry(message: str = "", level: str = "info", timestamp: datetime = NOW) -> LogEntry:
    return LogEntry(timestamp=timestamp, level=level, message=message)


TEXT_FIELDS: list[tuple[str, str, Callable[[str], object]]] = [
    ("name", "nightly job", lambda t: create(name=t)),
    ("description", "does things", lambda t: create(description=t)),
    ("content", "print('hi')", lambda t: create(content=t)),
    ("tags", "billing", lambda t: create(tags=["ok", t])),
    ("cron_expression", "*/5 * * * 1-5", lambda t: CronMetadata(cron_expression=t)),
    ("timezone", "Europe/Berlin", lambda t: CronMetadata(cron_expression="* * * * *", timezone=t)),
    ("path", "/hooks/order", lambda t: HTTPMetadata(path=t)),
    ("method", "PATCH", lambda t: HTTPMetadata(path="/", method=t)),
    ("output", "done", lambda t: ExecutionResult(output=t)),
    ("error", "boom", lambda t: ExecutionResult(error=t)),
    ("message", "step 1", lambda t: entry(message=t)),
    ("input", "value", lambda t: execution_input({"key": [t]})),
    ("input", "key", lambda t: execution_input({"a": {t: 1}})),
    ("search", "report", lambda t: ScriptFindParams(search=t)),
]


@pytest.mark.parametrize(
    ("field", "valid", "build"), TEXT_FIELDS, ids=[f"{f}={v}" for f, v, _ in TEXT_FIELDS]
)
@settings(max_examples=10)
@given(at=st.integers(0, 20), bad=st.sampled_from(["\x00", "\ud800", "\udfff"]))
def test_nul_and_lone_surrogates_are_rejected_in_every_text_field(
    field: str, valid: str, build: Callable[[str], object], at: int, bad: str
) -> None:
    build(valid)
    at %= len(valid) + 1
    rejects(field, lambda: build(valid[:at] + bad + valid[at:]))


@given(value=s.json_objects)
def test_a_json_object_is_accepted_as_input_unchanged(value: dict[str, Any]) -> None:
    assert execution_input(value) == value


@pytest.mark.parametrize(
    "value",
    [
        [1, 2],
        "text",
        7,
        {1: "int key"},
        {"nested": {None: "null key"}},
        {"nan": float("nan")},
        {"inf": [float("inf")]},
        {"big": 2**63},
        {"small": -(2**63) - 1},
        {"set": {1, 2}},
        {"when": NOW},
    ],
    ids=repr,
)
def test_input_that_is_not_a_storable_json_object_is_rejected(value: object) -> None:
    rejects("input", lambda: execution_input(value))


def test_input_nested_deeper_than_the_store_allows_is_rejected() -> None:
    deep: dict[str, Any] = {}
    for _ in range(300):
        deep = {"a": deep}
    rejects("input", lambda: execution_input(deep))
    circular: dict[str, Any] = {}
    circular["self"] = circular
    rejects("input", lambda: execution_input(circular))


def test_text_that_merely_looks_like_an_escaped_nul_is_accepted() -> None:
    assert execution_input({"a": "\\u0000"}) == {"a": "\\u0000"}


@BIG
@given(char=json_text_chars)
def test_input_of_exactly_one_mebibyte_serialised_is_accepted_and_one_byte_more_is_not(
    char: str,
) -> None:
    text = exactly_n_bytes(char, MIB - len('{"k":""}'))
    assert execution_input({"k": text}) == {"k": text}
    rejects("input", lambda: execution_input({"k": text + "a"}))


@BIG
@given(char=s.safe_chars)
def test_output_may_hold_one_mebibyte_and_error_64_kibibytes_of_utf8(char: str) -> None:
    output, error = exactly_n_bytes(char, MIB), exactly_n_bytes(char, 64 * KIB)
    result = ExecutionResult(output=output, error=error)
    assert (result.output, result.error) == (output, error)
    rejects("output", lambda: ExecutionResult(output=output + "a"))
    rejects("error", lambda: ExecutionResult(error=error + "a"))


def test_a_result_may_hold_10000_log_entries_but_not_10001() -> None:
    logs = [entry(message=str(n)) for n in range(10_000)]
    assert len(ExecutionResult(logs=logs).logs) == 10_000
    rejects("logs", lambda: ExecutionResult(logs=[*logs, entry()]))
    as_json = [e.model_dump(mode="json") for e in [*logs, entry()]]
    rejects("logs", lambda: ExecutionResult.parse({"logs": as_json}))


@given(level=st.text(max_size=8).filter(lambda x: x not in {"debug", "info", "warning", "error"}))
def test_a_log_level_other_than_debug_info_warning_error_is_rejected(level: str) -> None:
    rejects("level", lambda: entry(level=level))
    with pytest.raises(InvalidInput) as raised:
        ExecutionResult.parse({"logs": [{"timestamp": NOW, "level": level, "message": ""}]})
    assert raised.value.field.startswith("logs")


def test_a_log_timestamp_must_be_timezone_aware() -> None:
    rejects("timestamp", lambda: entry(timestamp=datetime(2024, 1, 1)))


def test_a_manual_trigger_needs_the_user_who_triggered_it() -> None:
    rejects("triggered_by", lambda: ExecutionTrigger(type="manual"))
    rejects("triggered_by", lambda: Execution.start(script=create(), trigger={"type": "manual"}))
    assert ExecutionTrigger(type="cron").triggered_by is None


@given(kind=st.text(max_size=8).filter(lambda k: k not in {"manual", "cron", "api"}))
def test_an_unknown_trigger_type_is_rejected(kind: str) -> None:
    rejects("type", lambda: ExecutionTrigger(type=kind, triggered_by=uuid4()))


@given(status=st.text(max_size=10).filter(lambda x: x not in s.STATUSES))
def test_completing_with_an_unknown_status_is_rejected(status: str) -> None:
    running = Execution.start(script=create(), trigger={"type": "api"})
    rejects("status", lambda: running.complete(status))

"""Failures a user meets: exit 1 with one clear line on stderr, never a traceback."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.cli import UNREACHABLE, Ran, run_process


@pytest.fixture
def empty_dsn(empty_database: Callable[[], str]) -> str:
    """A database without the schema."""
    return empty_database()


def assert_one_clear_line(ran: Ran) -> None:
    assert ran.code == 1
    lines = ran.err.splitlines()
    assert len(lines) == 1, ran.err
    assert lines[0].startswith("scripts-es: error: database unavailable")
    assert "--dsn" in lines[0]
    assert "Traceback" not in ran.err


@pytest.mark.parametrize(
    "argv",
    [
        ["--dsn", UNREACHABLE, "db", "install"],
        ["db", "install", "--dsn", UNREACHABLE],
        ["--json", "demo", "--dsn", UNREACHABLE],
    ],
)
def test_an_unreachable_database_is_one_line_on_stderr(run: Any, argv: list[str]) -> None:
    ran = run(*argv)
    assert_one_clear_line(ran)
    assert ran.out == ""


def test_an_unreachable_database_as_a_subprocess() -> None:
    ran = run_process("db", "install", "--dsn", UNREACHABLE)
    assert_one_clear_line(ran)
    assert ran.out == ""


def test_maintenance_commands_fail_fast_on_an_unreachable_database(run: Any) -> None:
    started = time.monotonic()
    ran = run("projections", "status", "--dsn", UNREACHABLE)
    assert_one_clear_line(ran)
    assert time.monotonic() - started < 10


def test_a_database_without_the_schema_says_how_to_fix_it(run: Any, empty_dsn: str) -> None:
    ran = run("projections", "status", "--dsn", empty_dsn)
    assert ran.code == 1
    assert len(ran.err.splitlines()) == 1
    assert "scripts-es db install" in ran.err
    assert run("db", "install", "--dsn", empty_dsn).code == 0
    assert run("projections", "status", "--dsn", empty_dsn).code == 0

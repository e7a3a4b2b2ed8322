"""Help and usage errors: exit 0 and 2, no database needed."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cli import run_process

COMMANDS = [
    [],
    ["db"],
    ["db", "install"],
    ["demo"],
    ["projections"],
    ["projections", "status"],
    ["projections", "run"],
    ["projections", "rebuild"],
    ["projections", "verify"],
    ["prune"],
    ["prune", "scripts"],
    ["prune", "executions"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "root")
def test_every_command_has_help(run: Any, command: list[str]) -> None:
    ran = run(*command, "--help")
    assert ran.code == 0
    assert "Usage: scripts-es" in ran.out


def test_the_root_help_lists_the_commands_and_exit_codes(run: Any) -> None:
    ran = run("--help")
    for name in ("demo", "db", "projections", "prune", "--dsn", "--json", "Exit codes"):
        assert name in ran.out


@pytest.mark.parametrize(
    ("argv", "mentions"),
    [
        (["no-such-command"], "no-such-command"),
        (["prune", "scripts"], "--max-versions"),
        (["prune", "scripts", "--dry-run", "--tenant", "00000000-0000-0000-0000-000000000001"],
         "--retention-days"),
        (["prune", "scripts", "--max-versions", "-1"], "--max-versions"),
        (["prune", "scripts", "--max-versions", "0"], "--max-versions"),
        (["prune", "scripts", "--retention-days", "ten"], "--retention-days"),
        (["prune", "scripts", "--max-versions", "3", "--tenant", "acme"], "--tenant"),
        (["prune", "executions"], "--older-than-days"),
        (["prune", "executions", "--older-than-days", "-3"], "--older-than-days"),
        (["prune", "executions", "--older-than-days", "3", "--keep-last", "-1"], "--keep-last"),
        (["projections", "rebuild", "--tenant", "not-a-uuid"], "--tenant"),
        (["projections", "verify", "--tenant", "12345"], "--tenant"),
        (["projections", "run", "--batch-size", "0"], "--batch-size"),
        (["--json", "demo", "--unknown-flag"], "--unknown-flag"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_and_name_the_culprit(run: Any, argv: list[str], mentions: str) -> None:
    ran = run(*argv)
    assert ran.code == 2
    assert mentions in ran.err
    assert ran.out == ""
    assert "Traceback" not in ran.err


def test_help_and_usage_errors_as_a_subprocess() -> None:
    assert run_process("--help").code == 0
    bad = run_process("prune", "scripts", "--max-versions", "-5")
    assert bad.code == 2
    assert "--max-versions" in bad.err
    assert "Traceback" not in bad.err

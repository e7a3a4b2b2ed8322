"""Run the CLI in-process (`cli(argv)`) or as a subprocess (`python -m scripts_es.cli`)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

import pytest

from scripts_es.cli import cli
from tests.support.pg import ROOT

UNREACHABLE = "postgresql://nobody@127.0.0.1:1/nowhere?connect_timeout=2"


@dataclass(frozen=True)
class Ran:
    """Exit code and output of one CLI run."""

    code: int
    out: str
    err: str

    def json(self) -> Any:
        """stdout parsed as the one JSON document it must be."""
        return json.loads(self.out)


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]) -> Any:
    """`run(*argv)` calls `cli(argv)` in-process and captures what it printed."""

    def invoke(*argv: str) -> Ran:
        capsys.readouterr()
        code = cli(list(argv))
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    return invoke


def run_process(*argv: str, timeout: float = 60) -> Ran:
    """`python -m scripts_es.cli argv...` in a child process."""
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTS_ES_DSN"}
    done = subprocess.run(
        [sys.executable, "-m", "scripts_es.cli", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
        check=False,
    )
    return Ran(done.returncode, done.stdout, done.stderr)

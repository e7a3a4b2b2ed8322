"""The projections package imports on its own, whatever was imported before it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.pg import ROOT


def imports_cleanly(module: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import {module}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "module",
    ["projections.rows", "projections.writer", "projections.runner", "scripts_es", "projections"],
)
def test_a_fresh_interpreter_can_import_the_module_first(module: str) -> None:
    done = imports_cleanly(module)
    assert done.returncode == 0, done.stderr

"""Fixtures of the CLI tests: the in-process runner."""

from tests.support.cli import run  # noqa: F401 (fixture)

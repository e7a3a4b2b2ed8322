"""Fixtures of the migration tests: the in-process CLI runner (empty databases are the suite's
`empty_database`)."""

from tests.support.cli import run  # noqa: F401 (fixture)

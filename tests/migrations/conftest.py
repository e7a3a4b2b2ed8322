"""Fixtures of the migration tests: empty databases on the session's server."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests import pg
from tests.cli.conftest import run  # noqa: F401 (the in-process CLI fixture)


@pytest.fixture
def empty_database(pg_server: str) -> Iterator[Callable[[], str]]:
    """A factory of empty databases (no scripts-es schema), all dropped after the test."""
    made: list[str] = []

    def make() -> str:
        name = pg.create_test_db(pg_server, "template0")
        made.append(name)
        return pg.with_db(pg_server, name)

    yield make
    for name in made:
        pg.drop_test_db(pg_server, name)

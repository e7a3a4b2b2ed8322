"""The library's unittest TestCases get a throwaway database each, through `self.dsn`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import pg


@pytest.fixture
def throwaway_dsn_for_unittest(
    request: pytest.FixtureRequest, pg_server: str, pg_template: str
) -> Iterator[None]:
    with pg.throwaway_db(pg_server, pg_template) as dsn:
        request.instance.dsn = dsn
        yield

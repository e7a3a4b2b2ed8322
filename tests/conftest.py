"""Shared fixtures (tests/support/fixtures.py). Storage tests run against a real PostgreSQL
(tests/support/pg.py)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

from tests.support.fixtures import (  # noqa: F401 (fixtures)
    clock,
    clocked,
    dsn,
    empty_database,
    module,
    one_tenant_twice,
    pg_server,
    pg_template,
    tenant,
    tenant_id,
    two_modules,
    user_id,
)

settings.register_profile(
    "default", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.register_profile(
    "ci",
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
    derandomize=True,  # CI runs the same examples every time; local runs explore
)
settings.load_profile("ci" if os.environ.get("CI") else "default")

"""schema.sql (the complete schema) and every migration applied in order give the same catalog."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import psycopg
import pytest

from scripts_es.store import migrations
from scripts_es.store.sql import schema_sql
from tests.migrations.catalog import catalog, differences


def apply(dsn: str, texts: Sequence[str]) -> None:
    with psycopg.connect(dsn) as conn:
        for text in texts:
            conn.execute(text.encode())


def test_the_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in migrations.migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert migrations.migrations()[0].name == "release_0_1_0"
    assert migrations.code_version() == versions[-1]


def test_schema_sql_equals_every_migration_applied_in_order(
    empty_database: Callable[[], str],
) -> None:
    from_schema, from_migrations = empty_database(), empty_database()
    apply(from_schema, [schema_sql()])
    apply(from_migrations, [m.sql() for m in migrations.migrations()])
    first, second = catalog(from_schema), catalog(from_migrations)
    assert all(first[section] for section in ("tables", "columns", "indexes", "policies"))
    assert differences(first, second) == {}


def test_schema_sql_applied_twice_changes_nothing(empty_database: Callable[[], str]) -> None:
    once, twice = empty_database(), empty_database()
    apply(once, [schema_sql()])
    apply(twice, [schema_sql(), schema_sql()])
    assert differences(catalog(once), catalog(twice)) == {}


@pytest.mark.parametrize(
    ("replaced", "divergent"),
    [
        # A migration that forgets a default schema.sql has.
        ("removed_at timestamptz NOT NULL DEFAULT now()", "removed_at timestamptz NOT NULL"),
        # One that grants the application role more than schema.sql does.
        (
            "GRANT SELECT ON scripts_es.schema_version TO scripts_es_app, scripts_es_maint;",
            "GRANT SELECT, INSERT ON scripts_es.schema_version TO scripts_es_app, "
            "scripts_es_maint;",
        ),
        # One that changes a function's body.
        (
            "PERFORM scripts_es.check_stream_head(tenant, stream, expected_head);",
            "PERFORM scripts_es.check_stream_head(tenant, stream, expected_head - 1);",
        ),
    ],
)
def test_a_divergent_migration_makes_the_schemas_differ(
    empty_database: Callable[[], str], replaced: str, divergent: str
) -> None:
    from_schema, diverged = empty_database(), empty_database()
    apply(from_schema, [schema_sql()])
    texts = [m.sql() for m in migrations.migrations()]
    assert sum(replaced in text for text in texts[1:]) == 1, "the test no longer bites"
    texts = [texts[0], *(text.replace(replaced, divergent) for text in texts[1:])]
    apply(diverged, texts)
    assert differences(catalog(from_schema), catalog(diverged)) != {}

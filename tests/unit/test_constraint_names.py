"""The constraint names the error translation relies on exist in schema.sql's catalog."""

from __future__ import annotations

import psycopg

from scripts_es.store.errors import CONSTRAINTS, STREAM_MOVED
from scripts_es.store.sql import schema_sql


def test_every_constraint_the_translation_names_exists(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        names = {
            row[0]
            for row in conn.execute(
                "SELECT conname FROM pg_constraint c JOIN pg_namespace n "
                "ON n.oid = c.connamespace WHERE n.nspname = 'scripts_es'"
            )
        }
    assert set(CONSTRAINTS) <= names


def test_the_stream_moved_sqlstate_is_the_one_schema_sql_raises() -> None:
    assert f"ERRCODE = '{STREAM_MOVED}'" in schema_sql()

"""Test PostgreSQL: a session-wide server and throwaway databases cloned from a template.

The server is SCRIPTS_ES_TEST_DSN if set, else an embedded one (pgserver) this session starts.
The template is built once from schema.sql (its name carries the schema's hash, so a changed
schema gets a fresh template); each test clones it with CREATE DATABASE ... TEMPLATE.
`throwaway_db` is the one way a test makes a database: with the schema (the template) or
empty (`EMPTY`, PostgreSQL's own template0), dropped when the block ends.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from scripts_es.store.database import install_schema
from scripts_es.store.sql import schema_sql

ROOT = Path(__file__).resolve().parents[2]
EMPTY = "template0"  # a template without the scripts-es schema


def server_dsn() -> str:
    if os.environ.get("SCRIPTS_ES_TEST_DSN"):
        return os.environ["SCRIPTS_ES_TEST_DSN"]
    import pgserver

    data = Path(os.environ.get("SCRIPTS_ES_TEST_DATA_DIR", ROOT / ".pgdata" / "test"))
    data.mkdir(parents=True, exist_ok=True)
    return str(pgserver.get_server(data, cleanup_mode="stop").get_uri())


def with_db(dsn: str, dbname: str) -> str:
    return make_conninfo(dsn, dbname=dbname)


def ensure_template(dsn: str) -> str:
    """Create the template database for the current schema.sql once (safe across workers)."""
    digest = hashlib.sha256(schema_sql().encode()).hexdigest()[:12]
    name = f"scripts_es_tpl_{digest}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(4242)")
        try:
            exists = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
            ).fetchone()
            if not exists:
                building = f"{name}_building"
                conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(building)))
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(building)))
                install_schema(with_db(dsn, building))
                conn.execute(
                    sql.SQL("ALTER DATABASE {} RENAME TO {}").format(
                        sql.Identifier(building), sql.Identifier(name)
                    )
                )
        finally:
            conn.execute("SELECT pg_advisory_unlock(4242)")
    return name


def create_test_db(dsn: str, template: str) -> str:
    name = f"scripts_es_test_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return name


def drop_test_db(dsn: str, name: str) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@contextmanager
def throwaway_db(server: str, template: str) -> Iterator[str]:
    """A fresh database cloned from `template` (the schema's, or EMPTY); dropped afterwards."""
    name = create_test_db(server, template)
    try:
        yield with_db(server, name)
    finally:
        drop_test_db(server, name)

"""The PostgreSQL server to measure on, and a dedicated database on it for one run."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / ".data"
_HANDLES: list[Any] = []  # keeps an embedded server alive for as long as this process runs


def server_dsn() -> tuple[str, str]:
    """(DSN of a superuser on the server, where it came from).

    SCRIPTS_ES_DSN, then SCRIPTS_ES_TEST_DSN, then the test suite's embedded server
    (tests/support/pg.py, .pgdata/test), and only without the tests an embedded one in bench/.data.
    """
    for name in ("SCRIPTS_ES_DSN", "SCRIPTS_ES_TEST_DSN"):
        if os.environ.get(name):
            return os.environ[name], name
    if (ROOT / "tests" / "support" / "pg.py").exists():
        if str(ROOT) not in sys.path:
            sys.path.insert(0, str(ROOT))
        from tests.support import pg

        return pg.server_dsn(), "tests/support/pg.py embedded pgserver (.pgdata/test)"
    from pgserver import get_server  # type: ignore[attr-defined]

    DATA.mkdir(parents=True, exist_ok=True)
    server = get_server(DATA / "pg", cleanup_mode="stop")
    _HANDLES.append(server)
    return str(server.get_uri()), "embedded pgserver (bench/.data)"


def with_db(dsn: str, dbname: str) -> str:
    return make_conninfo(dsn, dbname=dbname)


@contextmanager
def dedicated_database(dsn: str, *, keep: bool = False) -> Iterator[str]:
    """CREATE DATABASE for this run; yields its DSN and drops it afterwards (unless `keep`)."""
    name = f"scripts_es_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_db(dsn, name)
    finally:
        if keep:
            print(f"[bench] kept database {name}", flush=True)
        else:
            with psycopg.connect(dsn, autocommit=True) as conn:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )


def admin(dsn: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A connection as the DSN's login role (a superuser: row-level security does not apply)."""
    return psycopg.connect(dsn, autocommit=autocommit)


def server_facts(dsn: str) -> dict[str, Any]:
    with admin(dsn) as conn:
        version = conn.execute("SHOW server_version").fetchone()
        settings = dict(
            conn.execute(
                "SELECT name, setting FROM pg_settings WHERE name = ANY(%s)",
                (["shared_buffers", "fsync", "synchronous_commit", "max_connections"],),
            ).fetchall()
        )
    return {"postgres_version": version[0] if version else "?", "settings": settings}

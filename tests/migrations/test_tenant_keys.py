"""DESIGN §8: every tenant table can be distributed by tenant_id (Citus, co-located tables).

Read from the catalog of a database made from schema.sql: every table that holds tenant data
leads with tenant_id, and every primary key, unique constraint, foreign key (both ends) and
unique index of it includes tenant_id.
"""

from __future__ import annotations

import psycopg

from tests.support.raw import Raw

TENANT_TABLES = """
    SELECT c.relname FROM pg_class c
    JOIN pg_namespace n ON n.oid = c.relnamespace
    JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
    WHERE n.nspname = 'scripts_es' AND c.relkind = 'r'
    ORDER BY 1"""

KEYS = """
    SELECT c.relname, k.conname, k.contype::text,
           'tenant_id' = ANY(SELECT attname FROM pg_attribute
                             WHERE attrelid = k.conrelid AND attnum = ANY(k.conkey)),
           k.confrelid = 0 OR 'tenant_id' = ANY(SELECT attname FROM pg_attribute
                             WHERE attrelid = k.confrelid AND attnum = ANY(k.confkey))
    FROM pg_constraint k
    JOIN pg_class c ON c.oid = k.conrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'scripts_es' AND k.contype IN ('p', 'u', 'f') AND c.relname = ANY(%s)"""

UNIQUE_INDEXES = """
    SELECT c.relname, i.relname,
           'tenant_id' = ANY(SELECT attname FROM pg_attribute
                             WHERE attrelid = x.indrelid AND attnum = ANY(x.indkey))
    FROM pg_index x
    JOIN pg_class i ON i.oid = x.indexrelid
    JOIN pg_class c ON c.oid = x.indrelid
    JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'scripts_es' AND x.indisunique AND c.relname = ANY(%s)"""


def test_every_key_of_a_tenant_table_includes_tenant_id(dsn: str) -> None:
    with Raw(dsn) as raw:
        tables = [row[0] for row in raw.rows(TENANT_TABLES)]
        assert {"events", "snapshots", "commands", "scripts", "executions"} <= set(tables)
        first_columns = raw.rows(
            "SELECT table_name, column_name FROM information_schema.columns "
            "WHERE table_schema = 'scripts_es' AND ordinal_position = 1 AND table_name = ANY(%s)",
            (tables,),
        )
        keys = raw.rows(KEYS, (tables,))
        indexes = raw.rows(UNIQUE_INDEXES, (tables,))
    assert {name for name, column in first_columns if column != "tenant_id"} == set()
    assert {kind for _, _, kind, _, _ in keys} >= {"p", "f"}
    assert [(t, k) for t, k, _, has, _ in keys if not has] == []
    assert [(t, k) for t, k, _, _, referenced in keys if not referenced] == []
    assert [(t, i) for t, i, has in indexes if not has] == []


def test_the_check_catches_a_key_without_tenant_id(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute("ALTER TABLE scripts_es.commands ADD CONSTRAINT loose UNIQUE (command_id)")
        tables = [row[0] for row in conn.execute(TENANT_TABLES)]
        loose = [
            (table, name)
            for table, name, _, has, _ in conn.execute(KEYS, (tables,))  # type: ignore[arg-type]
            if not has
        ]
        conn.rollback()
    assert loose == [("commands", "loose")]

"""Write Rows into the read model: version-guarded upserts (live) or COPY (fresh scratch)."""

from __future__ import annotations

from typing import Any

from psycopg import sql

from projections.rows import EXECUTION_FIELDS, SCRIPT_FIELDS, Rows
from projections.tables import LIVE, Tables
from scripts_es.store.sql import load_templates, render

Q = load_templates("projections", "queries.sql")


def statements(tables: Tables) -> dict[str, str]:
    ids = tables.ids()
    return {name: render(block.format(**ids)) for name, block in Q.items()}


_LIVE = statements(LIVE)


def upsert(conn: Any, rows: Rows, tables: Tables = LIVE) -> None:
    """Apply rows idempotently: a row only moves forward in version, never back."""
    q = _LIVE if tables == LIVE else statements(tables)
    with conn.cursor() as cur:
        if rows.scripts:
            cur.executemany(q["upsert_script"], rows.scripts)
            cur.executemany(
                q["replace_tags"],
                [{"tenant_id": r[0], "id": r[1], "tags": r[8]} for r in rows.scripts],
            )
        for (tenant_id, script_id), versions in rows.versions.items():
            if versions:
                columns = [list(column) for column in zip(*versions, strict=True)]
                cur.execute(q["insert_versions"], (tenant_id, script_id, *columns))
        if rows.deleted_scripts:
            # Live tables cascade from scripts; scratch tables have no foreign keys. Parents
            # first: every writer locks scripts before script_versions (no deadlocks).
            cur.executemany(q["delete_script"], rows.deleted_scripts)
            cur.executemany(q["delete_script_versions"], rows.deleted_scripts)
            cur.executemany(q["delete_script_tags"], rows.deleted_scripts)
        if rows.executions:
            cur.executemany(q["upsert_execution"], rows.executions)


VERSION_COLUMNS = ("tenant_id", "script_id", "version", "change", "updated_at", "updated_by")
TAG_COLUMNS = ("tenant_id", "tag", "script_id")


def copy(conn: Any, rows: Rows, tables: Tables) -> None:
    """Bulk-load rows into empty tables (rebuild): no conflicts are possible there."""
    ids = tables.ids()
    with conn.cursor() as cur:
        _copy(cur, ids["scripts"], SCRIPT_FIELDS, rows.scripts)
        _copy(
            cur,
            ids["script_versions"],
            VERSION_COLUMNS,
            [(t, s, *row) for (t, s), versions in rows.versions.items() for row in versions],
        )
        _copy(
            cur,
            ids["script_tags"],
            TAG_COLUMNS,
            [(r[0], t, r[1]) for r in rows.scripts for t in r[8]],
        )
        _copy(cur, ids["executions"], EXECUTION_FIELDS, rows.executions)


def _copy(cur: Any, table: sql.Composable, columns: tuple[str, ...], rows: list[Any]) -> None:
    if not rows:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)

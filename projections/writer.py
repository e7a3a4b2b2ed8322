"""Write read-model rows: one statement per stream (live or scratch tables), or COPY in bulk.

The statement parts come from queries.sql, with their column lists from projections/rows.py:
the inline write of a command embeds the same parts (`rows_part`) after its events. A stream's
write takes only the parts its change needs (`projections.rows.script_rows`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import cache
from typing import Any

from psycopg import sql

from projections.rows import (
    EXECUTION_FIELDS,
    EXECUTION_FIXED,
    SCRIPT_FIELDS,
    SCRIPT_FIXED,
    Rows,
    execution_rows,
    script_rows,
)
from projections.tables import LIVE, Tables
from scripts_es.domain import Execution, Script
from scripts_es.domain.events import DomainEvent
from scripts_es.store.sql import load_templates, render

QUERIES = load_templates("projections", "queries.sql")


def _columns(fields: Sequence[str], fixed: frozenset[str], prefix: str) -> dict[str, Any]:
    updated = [f for f in fields if f not in fixed]
    return {
        f"{prefix}_columns": sql.SQL(", ").join(map(sql.Identifier, fields)),
        f"{prefix}_values": sql.SQL(", ").join(map(sql.Placeholder, fields)),
        f"{prefix}_updates": sql.SQL(", ").join(
            sql.SQL("{0} = excluded.{0}").format(sql.Identifier(f)) for f in updated
        ),
    }


@cache
def rows_part(parts: tuple[str, ...], tables: Tables = LIVE) -> sql.Composed:
    """The CTEs (queries.sql blocks `parts`, in order) that write one stream's rows into
    `tables`."""
    columns = {
        **tables.ids(),
        **_columns(SCRIPT_FIELDS, SCRIPT_FIXED, "script"),
        **_columns(EXECUTION_FIELDS, EXECUTION_FIXED, "execution"),
    }
    return sql.SQL(", ").join(QUERIES[part].format(**columns) for part in parts)


@cache
def statement(parts: tuple[str, ...], tables: Tables = LIVE) -> str:
    """The runner's statement for streams whose change needs `parts`, rendered once."""
    return render(QUERIES["project"].format(rows=rows_part(parts, tables)))


def stream_rows(
    state: Script | Execution, events: Sequence[DomainEvent]
) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The parts and parameters that bring one stream's rows up to `state` (the runner does
    not know which events changed the tags, so it rewrites them)."""
    if isinstance(state, Execution):
        return execution_rows(state)
    return script_rows(state, events, tags_changed=True)


def project(
    conn: Any,
    streams: Iterable[tuple[Script | Execution, Sequence[DomainEvent]]],
    tables: Tables = LIVE,
) -> None:
    """Bring each stream's rows up to its state (version rows for `events`), idempotently.

    Streams that need the same parts share one statement (executemany); scripts go before
    executions, so every transaction takes the read-model tables' locks in the one order
    that rebuild and verify take them (schema.sql)."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for state, events in streams:
        parts, params = stream_rows(state, events)
        groups.setdefault(parts, []).append(params)
    with conn.cursor() as cur:
        for parts in sorted(groups, key=lambda p: p[0] == "execution_upsert"):
            cur.executemany(statement(parts, tables), groups[parts])


VERSION_COLUMNS = ("tenant_id", "script_id", "version", "change", "updated_at", "updated_by")
TAG_COLUMNS = ("tenant_id", "tag", "script_id")


ColumnTypes = dict[str, dict[str, int]]  # table name -> column -> type oid


def copy(conn: Any, rows: Rows, tables: Tables, types: ColumnTypes) -> None:
    """Bulk-load rows into empty tables (rebuild) by binary COPY: no conflicts are possible
    there. `types` names each column's type (from the catalog), as binary COPY needs."""
    ids = tables.ids()
    with conn.cursor() as cur:
        _copy(cur, ids["scripts"], SCRIPT_FIELDS, rows.scripts, types[tables.scripts])
        _copy(
            cur,
            ids["script_versions"],
            VERSION_COLUMNS,
            [(t, s, *row) for (t, s), versions in rows.versions.items() for row in versions],
            types[tables.script_versions],
        )
        _copy(
            cur,
            ids["script_tags"],
            TAG_COLUMNS,
            [(r[0], t, r[1]) for r in rows.scripts for t in r[8]],
            types[tables.script_tags],
        )
        _copy(cur, ids["executions"], EXECUTION_FIELDS, rows.executions, types[tables.executions])


def _copy(
    cur: Any,
    table: sql.Composable,
    columns: tuple[str, ...],
    rows: list[Any],
    types: dict[str, int],
) -> None:
    if not rows:
        return
    statement = sql.SQL("COPY {} ({}) FROM STDIN (FORMAT BINARY)").format(
        table, sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    with cur.copy(statement) as copy:
        copy.set_types([types[column] for column in columns])
        for row in rows:
            copy.write_row(row)

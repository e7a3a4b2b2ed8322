"""Raw superuser views of what the module really stored: the suites' independent reading.

A `Raw` connection uses the DSN's login role, a superuser, so row-level security does not apply
to it: it sees every tenant's rows. The functions below it open one for a single question.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import dict_row, tuple_row

SCHEMA = "scripts_es"
# Read-model tables by primary key: dumps are ordered by it.
READ_MODEL_ORDER = {
    "scripts": "tenant_id, id",
    "script_versions": "tenant_id, script_id, version",
    "executions": "tenant_id, id",
}
ORDER = {
    "events": "tenant_id, originator_id, originator_version",
    "snapshots": "tenant_id, originator_id, originator_version",
    "commands": "tenant_id, command_id",
    "script_routes": "tenant_id, method, path",
    "prune_audit": "tenant_id, id",
    **READ_MODEL_ORDER,
}
TENANT_TABLES = tuple(ORDER)


def table(name: str) -> sql.Composable:
    """The schema's table `name`, as an identifier."""
    return sql.Identifier(SCHEMA, name)


def first(row: Any) -> Any:
    """The first column of a row (a tuple or a dict)."""
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


class Raw:
    """One autocommit superuser connection (as a context manager, closed at the end)."""

    def __init__(self, dsn: str, *, dict_rows: bool = False) -> None:
        self.conn: psycopg.Connection[Any] = psycopg.connect(
            dsn, autocommit=True, row_factory=dict_row if dict_rows else tuple_row
        )

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def execute(self, query: Any, params: Any = None) -> psycopg.Cursor[Any]:
        return self.conn.execute(query, params)

    def rows(self, query: Any, params: Any = None) -> list[Any]:
        return self.conn.execute(query, params).fetchall()

    def scalar(self, query: Any, params: Any = None) -> Any:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return first(row)

    # -- tables ---------------------------------------------------------------------------------

    def base_tables(self) -> list[str]:
        """Every base table of the schema, by name (tables added later included)."""
        return self._names(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = %s AND table_type = 'BASE TABLE' ORDER BY table_name"
        )

    def tenant_tables(self) -> list[str]:
        """Every base table of the schema that has a tenant_id column (new tables included)."""
        return self._names(
            "SELECT c.table_name FROM information_schema.columns c"
            " JOIN information_schema.tables t"
            "   ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
            " WHERE c.table_schema = %s AND c.column_name = 'tenant_id'"
            "   AND t.table_type = 'BASE TABLE'"
            " ORDER BY c.table_name"
        )

    def _names(self, query: str) -> list[str]:
        return [first(row) for row in self.rows(query, (SCHEMA,))]

    def row_counts(self) -> dict[str, int]:
        """Rows of every table of the schema."""
        count = sql.SQL("SELECT count(*) FROM {}")
        return {name: int(self.scalar(count.format(table(name)))) for name in self.base_tables()}

    def table(self, name: str, where: str = "TRUE", params: Any = None) -> list[Any]:
        return self.rows(
            f"SELECT * FROM scripts_es.{name} WHERE {where} ORDER BY {ORDER[name]}", params
        )

    def read_model(self) -> dict[str, list[Any]]:
        """Every row of every read-model table, every tenant, in primary-key order."""
        return {name: self.table(name) for name in READ_MODEL_ORDER}

    def tenant_state(self, tenant_id: UUID) -> dict[str, list[Any]]:
        """Every row the tenant owns, in every table."""
        return {name: self.table(name, "tenant_id = %s", (tenant_id,)) for name in TENANT_TABLES}

    def everything(self) -> dict[str, list[Any]]:
        return {name: self.table(name) for name in TENANT_TABLES}

    # -- streams --------------------------------------------------------------------------------

    def count(self, table: str, column: str, stream_id: UUID) -> int:
        return int(
            self.scalar(
                f"SELECT count(*) FROM scripts_es.{table} WHERE {column} = %s", (stream_id,)
            )
        )

    def event_versions(self, stream_id: UUID) -> list[int]:
        """The versions stored in one event stream (any tenant), ascending."""
        return self._versions("events", stream_id)

    def snapshot_versions(self, stream_id: UUID) -> list[int]:
        return self._versions("snapshots", stream_id)

    def _versions(self, name: str, stream_id: UUID) -> list[int]:
        query = sql.SQL(
            "SELECT originator_version FROM {} WHERE originator_id = %s ORDER BY 1"
        ).format(table(name))
        return [first(row) for row in self.rows(query, (stream_id,))]

    def audit(self, script_id: UUID) -> list[tuple[Any, ...]]:
        """(pruned_at, pruned_by, policy, horizon, removed) of each prune, oldest first."""
        return self.rows(
            "SELECT pruned_at, pruned_by, policy, horizon, removed FROM scripts_es.prune_audit"
            " WHERE script_id = %s ORDER BY id",
            (script_id,),
        )

    def terminate_others(self) -> int:
        """Kill every other backend of this database (e.g. the module's pooled connections)."""
        return len(
            self.rows(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )


# -- one question, one connection ---------------------------------------------------------------


def raw(dsn: str) -> Raw:
    """A superuser connection, for `with raw(dsn) as conn: conn.execute(...)`."""
    return Raw(dsn)


def row_counts(dsn: str) -> dict[str, int]:
    """Rows of every table of the schema, as the superuser sees them."""
    with Raw(dsn) as conn:
        return conn.row_counts()


def stream_versions(dsn: str, stream_id: UUID) -> list[int]:
    """The versions stored in one event stream (any tenant), ascending."""
    with Raw(dsn) as conn:
        return conn.event_versions(stream_id)


def snapshot_versions(dsn: str, stream_id: UUID) -> list[int]:
    with Raw(dsn) as conn:
        return conn.snapshot_versions(stream_id)


def event_count(dsn: str) -> int:
    with Raw(dsn) as conn:
        return int(conn.scalar("SELECT count(*) FROM scripts_es.events"))


def dump_read_model(dsn: str) -> dict[str, list[dict[str, Any]]]:
    """Every row of the read model, by table, as dicts, in primary-key order (every tenant)."""
    with Raw(dsn, dict_rows=True) as conn:
        return conn.read_model()


def scratch_tables_left(dsn: str) -> list[str]:
    """Tables of the schema whose name says scratch (a rebuild's own, which must not stay)."""
    with Raw(dsn) as conn:
        return [name for name in conn.base_tables() if "scratch" in name]


def terminate_module_connections(dsn: str) -> int:
    """Kill every other backend of the test database (the module's pooled connections)."""
    with Raw(dsn) as conn:
        return conn.terminate_others()

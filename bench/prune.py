"""prune_scripts_per_s: prune scripts of 100 versions each down to 5 (per-tenant prune).

Seeding: in every prune tenant one template script is written through the module (created, then
changed in batches of 20, so it has the snapshots live commands would leave); the others are
server-side copies of everything the module wrote for it (events, snapshots, read-model rows),
with only the script id changed, so the data is exactly what the module would have written.
"""

from __future__ import annotations

import time
import uuid
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

from bench.cpu import CpuMeter
from bench.load import build_stream
from bench.timing import summary_ms
from scripts_es import ScriptsModule
from scripts_es.domain import VersionRetentionPolicy

# table -> (the column holding the script id, columns left to their defaults, insertion order).
# Rows go in version by version across all copies, as if the scripts had been edited in turns:
# a script's history is spread over many pages, like a live tenant's.
CLONED = {
    "events": ("originator_id", {"notification_id", "txid"}, "originator_version"),
    "snapshots": ("originator_id", set(), "originator_version"),
    "scripts": ("id", set(), "id"),
    "script_versions": ("script_id", set(), "version"),
    "script_tags": ("script_id", set(), "tag"),  # where the schema has it (the template has none)
}
# The snapshot payload names the script: swap the id inside it too.
SNAPSHOT_STATE = sql.SQL(
    "convert_to(replace(convert_from(t.state, 'UTF8'), %(template)s::text, c.id::text), 'UTF8')"
)


def _columns(conn: psycopg.Connection[Any], table: str) -> list[str]:
    rows = conn.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = 'scripts_es' AND table_name = %s ORDER BY ordinal_position",
        (table,),
    ).fetchall()
    return [row[0] for row in rows]


def clone(admin_dsn: str, tenant_id: UUID, template: UUID, copies: int) -> None:
    """`copies` more scripts identical to `template` but for their ids, in one transaction."""
    with psycopg.connect(admin_dsn) as conn:
        conn.execute(
            "CREATE TEMP TABLE bench_clones ON COMMIT DROP AS "
            "SELECT gen_random_uuid() AS id FROM generate_series(1, %s)",
            (copies,),
        )
        for table, (id_column, defaulted, order) in CLONED.items():
            columns = [c for c in _columns(conn, table) if c not in defaulted]
            if not columns:  # not in this version of the schema
                continue
            select: list[sql.Composable] = []
            for column in columns:
                if column == id_column:
                    select.append(sql.SQL("c.id"))
                elif table == "snapshots" and column == "state":
                    select.append(SNAPSHOT_STATE)
                else:
                    select.append(sql.SQL("t.{}").format(sql.Identifier(column)))
            conn.execute(
                sql.SQL(
                    "INSERT INTO {table} ({columns}) SELECT {select} FROM {table} t "
                    "CROSS JOIN bench_clones c WHERE t.tenant_id = %(tenant)s AND t.{id} = "
                    "%(template)s ORDER BY t.{order}, c.id"
                ).format(
                    table=sql.Identifier("scripts_es", table),
                    columns=sql.SQL(", ").join(map(sql.Identifier, columns)),
                    select=sql.SQL(", ").join(select),
                    id=sql.Identifier(id_column),
                    order=sql.Identifier(order),
                ),
                {"tenant": tenant_id, "template": template},
            )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for table in CLONED:
            if _columns(conn, table):
                conn.execute(sql.SQL("ANALYZE {}").format(sql.Identifier("scripts_es", table)))


def seed(
    module: ScriptsModule, admin_dsn: str, tenants: int, per_tenant: int, versions: int
) -> list[UUID]:
    ids = [uuid.uuid4() for _ in range(tenants)]
    for tenant_id in ids:
        user_id = uuid.uuid4()
        template = build_stream(module.tenant(tenant_id, user_id), user_id, versions, batch=20)
        clone(admin_dsn, tenant_id, template, per_tenant - 1)
    return ids


def measure(
    module: ScriptsModule, admin_dsn: str, *, tenants: int, per_tenant: int, versions: int = 100
) -> dict[str, Any]:
    started = time.perf_counter()
    ids = seed(module, admin_dsn, tenants, per_tenant, versions)
    seed_seconds = time.perf_counter() - started
    policy = VersionRetentionPolicy(max_versions=5)
    each: list[float] = []
    last = [time.perf_counter()]

    def progress(done: int, total: int) -> None:
        now = time.perf_counter()
        each.append(now - last[0])
        last[0] = now

    touched = removed = 0
    seconds = 0.0
    cpu = CpuMeter(admin_dsn)
    for tenant_id in ids:
        start = last[0] = time.perf_counter()
        cpu.start()
        summary = module.prune_scripts(policy, tenant_id=tenant_id, progress=progress)
        cpu.stop()
        seconds += time.perf_counter() - start
        touched += summary.scripts_touched
        removed += summary.events_removed
    cpu.close()
    scripts = tenants * per_tenant
    assert touched == scripts, f"pruned {touched} of {scripts} scripts"
    verified = module.verify_projections(tenant_id=ids[0]).ok
    return {
        "prune_scripts_per_s": round(scripts / seconds, 1),
        "prune": {
            "scripts": scripts,
            "tenants": tenants,
            "versions_each": versions,
            "kept": 5,
            "events_removed": removed,
            "events_removed_per_s": round(removed / seconds, 1),
            "seconds": round(seconds, 3),
            "per_script": summary_ms(each),
            **cpu.per_op_ms(scripts),
            "seed_seconds": round(seed_seconds, 2),
            "verify_after_prune_ok": verified,
        },
    }

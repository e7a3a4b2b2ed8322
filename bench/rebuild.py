"""rebuild_events_per_s and rebuild_ratio: a full rebuild_projections() ÷ a bare SELECT.

The baseline reads the same rows in the same order as the rebuild does (superuser, server-side
cursor, fetched to the last row), before and after the rebuild; the faster of the two is used.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
from psycopg import sql

from bench.cpu import CpuMeter
from bench.timing import ratio
from scripts_es import ScriptsModule

ALL_EVENTS = (
    "SELECT tenant_id, originator_id, originator_version, topic, state "
    "FROM scripts_es.events ORDER BY tenant_id, originator_id, originator_version"
)


def raw_select(admin_dsn: str) -> tuple[int, float]:
    """(rows, seconds) of reading every event row as the rebuild orders them."""
    with psycopg.connect(admin_dsn) as conn, conn.cursor(name="bench_raw_select") as cur:
        cur.itersize = 2_000
        start = time.perf_counter()
        cur.execute(ALL_EVENTS)
        rows = 0
        for _ in cur:
            rows += 1
        return rows, time.perf_counter() - start


def analyze(admin_dsn: str) -> dict[str, float]:
    """What autovacuum would do shortly after a rebuild: fresh statistics for the planner.

    Returns the size of each table with its indexes, in MiB.
    """
    sizes = {}
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'scripts_es' ORDER BY 1"
        ).fetchall()
        for (table,) in tables:
            name = sql.Identifier("scripts_es", table)
            conn.execute(sql.SQL("ANALYZE {}").format(name))
            row = conn.execute(
                "SELECT pg_total_relation_size(%s::regclass)", (f"scripts_es.{table}",)
            ).fetchone()
            sizes[table] = round((row[0] if row else 0) / 2**20, 1)
    return sizes


def measure(module: ScriptsModule, admin_dsn: str) -> dict[str, Any]:
    before = raw_select(admin_dsn)
    cpu = CpuMeter(admin_dsn)
    start = time.perf_counter()
    cpu.start()
    report = module.rebuild_projections()
    cpu.stop()
    seconds = time.perf_counter() - start
    cpu.close()
    after = raw_select(admin_dsn)
    sizes = analyze(admin_dsn)
    rows, raw_seconds = min(before, after, key=lambda r: r[1])
    events_per_s = report.events / seconds
    raw_per_s = rows / raw_seconds
    return {
        "rebuild_events_per_s": round(events_per_s, 1),
        "rebuild_ratio": ratio(events_per_s, raw_per_s),
        "rebuild": {
            "events": report.events,
            "streams": report.streams,
            "scripts": report.scripts,
            "script_versions": report.script_versions,
            "seconds": round(seconds, 3),
            "client_cpu_seconds": round(cpu.client, 2),
            "server_cpu_seconds": round(cpu.server, 2) if cpu.server_known else None,
            "raw_select_rows": rows,
            "raw_select_seconds": round(raw_seconds, 3),
            "raw_select_rows_per_s": round(raw_per_s, 1),
            "table_mib": sizes,
        },
    }

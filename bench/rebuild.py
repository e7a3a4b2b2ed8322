"""rebuild_events_per_s and rebuild_ratio: a full rebuild_projections() ÷ a bare SELECT.

The baseline reads the same rows in the same order as the rebuild does (superuser, server-side
cursor, fetched to the last row), before and after the rebuild; the faster of the two is used.
"""

from __future__ import annotations

import multiprocessing
import queue
import time
from typing import Any

import psycopg
from psycopg import sql

from bench import seed
from bench.cpu import CpuMeter
from bench.server import dedicated_database
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


def _rebuild_in_child(dsn: str, results: Any) -> None:
    """In a fresh process: a full rebuild; its peak resident memory and what it started at."""
    with ScriptsModule.open(dsn, install=False) as module:
        before = _status_kib("VmRSS")
        report = module.rebuild_projections()
        peak = _status_kib("VmHWM")
    results.put({"events": report.events, "start_kib": before, "peak_kib": peak})


def _status_kib(field: str) -> int:
    """A memory figure of this process from /proc (VmHWM: its peak resident set; unlike
    getrusage's ru_maxrss it does not carry the parent's peak over into a spawned child)."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
    return 0


def child_peak(dsn: str) -> dict[str, int]:
    """Peak client memory of a full rebuild, measured in a spawned process of its own."""
    spawn = multiprocessing.get_context("spawn")
    results = spawn.Queue()
    child = spawn.Process(target=_rebuild_in_child, args=(dsn, results))
    child.start()
    try:
        while True:
            try:
                measured: dict[str, int] = results.get(timeout=1.0)
                return measured
            except queue.Empty:
                if not child.is_alive():
                    raise RuntimeError(
                        f"the rebuild child failed (exit {child.exitcode})"
                    ) from None
    finally:
        child.join(timeout=60)


def measure_peak_rss(admin_dsn: str, tenants: int, per_tenant: int) -> dict[str, Any]:
    """rebuild_peak_rss_ratio: a store of 2× the events ÷ 1× (a database of its own)."""
    with dedicated_database(admin_dsn) as dsn:
        ScriptsModule.open(dsn).close()  # installs the schema
        data = seed.new_dataset(tenants)
        seed.add_scripts(dsn, data, 0, per_tenant, seed=17)
        once = child_peak(dsn)
        seed.add_scripts(dsn, data, per_tenant, per_tenant, seed=17)
        twice = child_peak(dsn)
    return {
        "rebuild_peak_rss_ratio": ratio(twice["peak_kib"], once["peak_kib"]),
        "rebuild_memory": {
            "1x": once,
            "2x": twice,
            "growth_ratio": ratio(
                twice["peak_kib"] - twice["start_kib"], once["peak_kib"] - once["start_kib"]
            ),
        },
    }

"""The figures against their targets: a rich table and bench/results.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

# figure -> (comparison, target, unit); None: a raw figure without a target.
TARGETS: dict[str, tuple[str, float] | None] = {
    "command_throughput_ratio": (">=", 0.5),
    "execution_lifecycle_ratio": (">=", 0.5),
    "async_command_throughput_ratio": (">=", 1.0),
    "concurrent_scaling": (">=", 1.5),
    "load_flatness": ("<=", 2.0),
    "load_flatness_populated": ("<=", 2.0),
    "rebuild_events_per_s": (">=", 20_000),
    "rebuild_ratio": (">=", 0.25),
    "rebuild_peak_rss_ratio": ("<=", 1.2),
    "find_overhead_ratio": ("<=", 1.3),
    "find_scaling": ("<=", 1.5),
    "prune_scripts_per_s": None,
    "claim_ratio": (">=", 0.5),
    "claim_per_s": None,
    "due_scaling": ("<=", 1.5),
    "feed_catchup_events_per_s": None,
    "feed_catchup_ratio": (">=", 0.3),
    "feed_latency_p99_ms": ("<=", 50.0),
    "vs_eventsourcing_1_writer": (">=", 2.0),
    "vs_eventsourcing_4_writers": (">=", 3.0),
    "vs_eventsourcing_load_2000": None,
    "vs_eventsourcing_snapshots_load_2000": None,
}


def met(name: str, value: float) -> bool | None:
    target = TARGETS.get(name)
    if target is None:
        return None
    op, bound = target
    return value >= bound if op == ">=" else value <= bound


def _detail(name: str, r: dict[str, Any]) -> str:
    def g(section: str, key: str) -> Any:
        return r.get(section, {}).get(key, "?")

    details = {
        "command_throughput_ratio": lambda: (
            f"{g('command_throughput', 'scripts_es_cmd_per_s')} cmd/s vs raw "
            f"{g('command_throughput', 'raw_insert_tx_per_s')} tx/s; cache off "
            f"{g('command_throughput', 'ratio_cache_off')}, inline off "
            f"{g('command_throughput', 'ratio_inline_off')}"
        ),
        "execution_lifecycle_ratio": lambda: (
            f"{g('execution_lifecycle', 'lifecycles_per_s')} start+complete/s vs raw "
            f"{g('execution_lifecycle', 'raw_insert_pairs_per_s')} INSERT pairs/s"
        ),
        "async_command_throughput_ratio": lambda: (
            f"{g('async_command_throughput', 'async_8_tasks_cmd_per_s')} cmd/s (8 tasks, one "
            f"loop) vs {g('async_command_throughput', 'sync_8_threads_cmd_per_s')} cmd/s "
            f"(8 threads); client CPU/cmd "
            f"{g('async_command_throughput', 'async_client_cpu_us_per_cmd')} vs "
            f"{g('async_command_throughput', 'sync_client_cpu_us_per_cmd')} µs"
        ),
        "concurrent_scaling": lambda: (
            f"{g('concurrent', 'scripts_es_1_writer_cmd_per_s')} → "
            f"{g('concurrent', 'scripts_es_4_writers_cmd_per_s')} cmd/s; raw scales "
            f"{g('concurrent', 'raw_scaling')}"
        ),
        "load_flatness": lambda: _load(r, "small_store"),
        "load_flatness_populated": lambda: _load(r, "populated_store"),
        "rebuild_events_per_s": lambda: (
            f"{g('rebuild', 'events')} events in {g('rebuild', 'seconds')} s"
        ),
        "rebuild_ratio": lambda: f"raw SELECT {g('rebuild', 'raw_select_rows_per_s')} rows/s",
        "rebuild_peak_rss_ratio": lambda: (
            f"peak {g('rebuild_memory', '2x')['peak_kib']} KiB rebuilding "
            f"{g('rebuild_memory', '2x')['events']} events vs "
            f"{g('rebuild_memory', '1x')['peak_kib']} KiB for {g('rebuild_memory', '1x')['events']}"
        ),
        "find_overhead_ratio": lambda: (
            f"p95 {g('find_large', 'find_p95_ms')} ms vs hand {g('find_large', 'hand_p95_ms')} ms"
            f" ({g('find_scripts', 'large')} scripts)"
        ),
        "find_scaling": lambda: (
            f"p95 {g('find_small', 'find_p95_ms')} → {g('find_large', 'find_p95_ms')} ms "
            f"({g('find_scripts', 'small')} → {g('find_scripts', 'large')}); hand "
            f"{g('find_small', 'hand_p95_ms')} → {g('find_large', 'hand_p95_ms')} ms"
        ),
        "prune_scripts_per_s": lambda: (
            f"{g('prune', 'scripts')} scripts × {g('prune', 'versions_each')} versions → 5, "
            f"{g('prune', 'seconds')} s"
        ),
        "claim_ratio": lambda: (
            f"{g('claim', 'scripts_es_claims_per_s')} vs raw {g('claim', 'raw_claims_per_s')} "
            f"claims/s, {g('claim', 'workers')} workers; exactly once: "
            f"{g('claim', 'exactly_once')}"
        ),
        "claim_per_s": lambda: (
            f"{g('claim', 'items_per_round')} pending × {g('claim', 'rounds')} rounds, "
            f"{g('claim', 'tenants')} tenants"
        ),
        "due_scaling": lambda: (
            f"p95 {g('due', 'small_p95_ms')} → {g('due', 'large_p95_ms')} ms "
            f"({g('due', 'scripts').get('small', '?')} → {g('due', 'scripts').get('large', '?')}"
            f" cron scripts); backlog {g('due', 'backlog_scaling')}; index in order: prepared "
            f"{g('due', 'plan_ok_generic')}, with values {g('due', 'plan_ok_custom')}; parallel: "
            f"{', '.join(g('due', 'parallel_plans')) or 'none'}"
        ),
        "feed_catchup_events_per_s": lambda: (
            f"{g('feed_catchup', 'events')} events in {g('feed_catchup', 'feed_seconds')} s; "
            f"sequenced at {g('feed_catchup', 'sequence_events_per_s')} events/s"
        ),
        "feed_catchup_ratio": lambda: (
            f"raw SELECT {g('feed_catchup', 'raw_select_rows_per_s')} rows/s, same rows"
        ),
        "feed_latency_p99_ms": lambda: (
            f"p50 {g('feed_latency', 'p50_ms')} ms, {g('feed_latency', 'events')} events, "
            f"{g('feed_latency', 'writers')} writers, LISTEN/NOTIFY (poll 1 s)"
        ),
    }
    details.update(_peer_details(r))
    return str(details[name]())


def _peer_details(r: dict[str, Any]) -> dict[str, Any]:
    p = r.get("peers", {})
    one, many, load = p.get("one_writer", {}), p.get("many_writers", {}), p.get("load", {})
    ms = load.get("latency", {})

    def cpu(side: str, where: str) -> Any:
        return one.get("cpu", {}).get(side, {}).get(f"{where}_cpu_ms_per_op", "?")

    def loads(theirs: str) -> str:
        ours, them = ms.get("scripts_es_2000", {}), ms.get(f"{theirs}_2000", {})
        return (
            f"p50/p95 ms: theirs {them.get('median_ms', '?')}/{them.get('p95_ms', '?')} vs ours "
            f"{ours.get('median_ms', '?')}/{ours.get('p95_ms', '?')} (cache off, snapshots "
            f"every {load.get('snapshot_every', '?')})"
        )

    return {
        "vs_eventsourcing_1_writer": lambda: (
            f"{one.get('scripts_es_cmd_per_s', '?')} cmd/s vs the library's "
            f"{one.get('eventsourcing_saves_per_s', '?')} saves/s; payload "
            f"{p.get('payload_bytes', '?')} vs {one.get('eventsourcing_payload_bytes', '?')} B; "
            f"CPU ms/op client {cpu('scripts_es', 'client')} vs {cpu('eventsourcing', 'client')}"
            f", server {cpu('scripts_es', 'server')} vs {cpu('eventsourcing', 'server')}"
        ),
        "vs_eventsourcing_4_writers": lambda: (
            f"{many.get('scripts_es_4_writers_cmd_per_s', '?')} cmd/s vs "
            f"{many.get('eventsourcing_4_writers_saves_per_s', '?')} saves/s, 4 processes each"
        ),
        "vs_eventsourcing_load_2000": lambda: loads("eventsourcing") + "; theirs unsnapshotted",
        "vs_eventsourcing_snapshots_load_2000": lambda: (
            loads("eventsourcing_snapshots")
            + f"; theirs snapshot every {load.get('library_snapshotting_interval', '?')}"
        ),
    }


def _load(r: dict[str, Any], store: str) -> str:
    measured = r.get("load", {}).get(store, {})
    medians = ", ".join(
        f"{k}: {v['median_ms']:.2f}" for k, v in measured.get("latency_by_events", {}).items()
    )
    return f"median ms by events {medians}; 10,013/10 = {measured.get('ratio_10013', '?')}"


def table(results: dict[str, Any]) -> Table:
    out = Table(title=f"scripts-es bench ({results['meta']['mode']})")
    for column in ("figure", "value", "target", "met", "behind it"):
        out.add_column(column, overflow="fold")
    for name, target in TARGETS.items():
        if name not in results:
            continue
        value = results[name]
        ok = met(name, value)
        out.add_row(
            name,
            f"{value:,.3f}" if value < 100 else f"{value:,.0f}",
            "—" if target is None else f"{target[0]} {target[1]:,}",
            "—" if ok is None else ("[green]yes[/]" if ok else "[red]NO[/]"),
            _detail(name, results),
        )
    return out


def write(results: dict[str, Any], path: Path) -> None:
    results["targets_met"] = {
        name: met(name, results[name]) for name in TARGETS if name in results and TARGETS[name]
    }
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    Console(width=160).print(table(results))

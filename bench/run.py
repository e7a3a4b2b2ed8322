"""The phases of one run, in order, on dedicated databases."""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

from bench import asynchronous, concurrent, feed, find, load, prune, rebuild, running, seed, writes
from bench.config import Scale
from bench.lifecycle import measure as measure_lifecycle
from bench.peers import measure as measure_peers
from bench.server import dedicated_database
from bench.timing import ratio
from bench.writers import CommandWriter, event_shape
from scripts_es import ScriptsModule

PHASES = ("writes", "async", "concurrent", "load", "read", "prune", "claim", "due", "feed")
PHASES += ("lifecycle", "rebuild_memory", "peers")


@dataclass
class Run:
    module: ScriptsModule
    dsn: str
    s: Scale
    results: dict[str, Any]
    streams: load.Streams | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _writes(r: Run) -> None:
    s = r.s
    r.results.update(
        writes.measure(r.dsn, rounds=s.write_rounds, ops=s.write_ops, warmup=s.write_warmup)
    )


def _async(r: Run) -> None:
    s = r.s
    r.results.update(
        asynchronous.measure(
            r.dsn, rounds=s.async_rounds, ops=s.async_ops, warmup=s.write_warmup // 10 + 1
        )
    )


def _concurrent(r: Run) -> None:
    probe = CommandWriter(r.module, uuid.uuid4(), uuid.uuid4())  # the payload the raw side copies
    for _ in range(3):
        probe.step()
    shape = event_shape(r.dsn, probe.script_id)
    s = r.s
    r.results.update(
        concurrent.measure(
            r.dsn, shape, rounds=s.conc_rounds, duration=s.conc_seconds, warmup=s.conc_warmup
        )
    )


def _load(r: Run) -> None:
    """Streams of 10 .. 10,019 events, loaded while the store holds little else."""
    r.streams = load.build(r.module)
    small = load.measure(r.streams, reps=r.s.load_reps)
    events = sum(load.LENGTHS)
    r.results["load_flatness"] = small["flatness"]
    r.results["load"] = {
        "snapshot_every": 20,
        "events_written": events,
        "build_seconds": round(r.streams.build_seconds, 2),
        "build_events_per_s": round(events / r.streams.build_seconds, 1),
        "small_store": small,
    }


def _read(r: Run) -> None:
    """Seed three data sets (three databases), rebuild each, then query all three interleaved.

    large: tenants × per_tenant scripts; small: a tenth of the tenants, same size each (does find
    grow with the table?); sparse: all tenants, a tenth of the scripts each (with the answers).
    """
    s, results = r.s, r.results
    shapes = {"small": (s.tenants // 10, s.per_tenant), "sparse": (s.tenants, s.per_tenant // 10)}
    targets: dict[str, find.Target] = {}
    rebuilds: dict[str, Any] = {}
    with ExitStack() as stack:
        for name, (tenants, per_tenant) in shapes.items():
            dsn = stack.enter_context(dedicated_database(r.dsn))
            module = stack.enter_context(ScriptsModule.open(dsn))
            targets[name] = find.Target(module, dsn, seed.new_dataset(tenants))
            seed.add_scripts(dsn, targets[name].data, 0, per_tenant, seed=11)
            rebuilds[name] = rebuild.measure(module, dsn)["rebuild"]
        data = seed.new_dataset(s.tenants)
        seed.add_scripts(r.dsn, data, 0, s.per_tenant, seed=11)
        results.update(rebuild.measure(r.module, r.dsn))
        results["rebuild"]["smaller_stores"] = rebuilds
        results["rebuild"]["verify_one_tenant_ok"] = r.module.verify_projections(
            tenant_id=data.tenants[0]
        ).ok
        targets["large"] = find.Target(r.module, r.dsn, data)
        stats = find.measure(targets, s.find_reps, seed=3)
    large, small, sparse = stats["large"], stats["small"], stats["sparse"]
    results["find_overhead_ratio"] = ratio(large["find_p95_ms"], large["hand_p95_ms"])
    results["find_scaling"] = ratio(large["find_p95_ms"], small["find_p95_ms"])
    results["find_large"], results["find_small"], results["find_sparse"] = large, small, sparse
    results["find_scripts"] = {
        "large": f"{s.tenants} tenants × {s.per_tenant}",
        "small": "{} tenants × {}".format(*shapes["small"]),
        "sparse": "{} tenants × {}".format(*shapes["sparse"]),
        "seeded_events_large": data.events,
        "seed_seconds_large": round(data.seconds, 2),
        "hand_scaling": ratio(large["hand_p95_ms"], small["hand_p95_ms"]),
        "median_scaling": ratio(large["find"]["median_ms"], small["find"]["median_ms"]),
        "scaling_vs_sparse": ratio(large["find_p95_ms"], sparse["find_p95_ms"]),
        "hand_scaling_vs_sparse": ratio(large["hand_p95_ms"], sparse["hand_p95_ms"]),
        "overhead_ratio_small": ratio(small["find_p95_ms"], small["hand_p95_ms"]),
        "median_overhead_large": ratio(large["find"]["median_ms"], large["hand"]["median_ms"]),
    }
    if r.streams is not None:  # the same streams again, now among many others
        populated = load.measure(r.streams, reps=r.s.load_reps)
        results["load"]["populated_store"] = populated
        results["load_flatness_populated"] = populated["flatness"]


def _prune(r: Run) -> None:
    s = r.s
    r.results.update(
        prune.measure(r.module, r.dsn, tenants=s.prune_tenants, per_tenant=s.prune_per_tenant)
    )


def _feed(r: Run) -> None:
    """On a database of its own: a backlog to catch up with, then live latency."""
    with dedicated_database(r.dsn) as dsn, ScriptsModule.open(dsn) as module:
        r.results.update(feed.catchup(module, dsn, r.s.feed_backlog))
        r.results.update(feed.latency(module, dsn, writers=2, seconds=r.s.feed_seconds))


def _claim(r: Run) -> None:
    """4 workers claim single pending executions vs a raw SKIP LOCKED queue (own database)."""
    s = r.s
    with dedicated_database(r.dsn) as dsn, ScriptsModule.open(dsn) as module:
        r.results.update(
            running.measure_claim(module, dsn, items=s.claim_items, rounds=s.claim_rounds)
        )


def _due(r: Run) -> None:
    s = r.s
    r.results.update(
        running.measure_due(
            r.dsn, small=s.due_small, large=s.due_large, tenants=s.due_tenants, reps=s.due_reps
        )
    )


STEPS = {"writes": _writes, "async": _async, "concurrent": _concurrent, "load": _load}
STEPS["read"] = _read
STEPS["prune"] = _prune
STEPS["claim"] = _claim
STEPS["due"] = _due
STEPS["feed"] = _feed


def _peers(r: Run) -> None:
    """Beside the eventsourcing library's stock PostgreSQL application (its own database)."""
    s = r.s
    r.results.update(
        measure_peers(
            r.module,
            r.dsn,
            rounds=s.peer_rounds,
            ops=s.peer_ops,
            warmup=s.write_warmup,
            conc_rounds=s.peer_conc_rounds,
            conc_seconds=s.peer_conc_seconds,
            load_reps=s.peer_load_reps,
        )
    )


STEPS["peers"] = _peers


def _lifecycle(r: Run) -> None:
    s = r.s
    r.results.update(
        measure_lifecycle(r.dsn, rounds=s.write_rounds, ops=s.write_ops // 2, warmup=s.write_warmup)
    )


STEPS["lifecycle"] = _lifecycle


def _rebuild_memory(r: Run) -> None:
    r.results.update(rebuild.measure_peak_rss(r.dsn, r.s.rss_tenants, r.s.rss_per_tenant))


STEPS["rebuild_memory"] = _rebuild_memory


def run(dsn: str, scale: Scale, only: set[str], results: dict[str, Any]) -> None:
    with ScriptsModule.open(dsn) as module:  # installs the schema into the fresh database
        r = Run(module, dsn, scale, results)
        results.setdefault("meta", {})["phase_seconds"] = r.timings
        for name in PHASES:
            if only and name not in only:
                continue
            started = time.perf_counter()
            print(f"[bench] {name} …", flush=True)
            STEPS[name](r)
            r.timings[name] = round(time.perf_counter() - started, 1)
            print(f"[bench] {name} done in {r.timings[name]} s", flush=True)

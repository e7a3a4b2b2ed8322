"""`python -m bench.profile`: the evidence behind BENCHMARKS.md, written to bench/.data/profiles.

Client side: pyinstrument over the command path, loads, a rebuild, the find mix and a prune.
Server side: EXPLAIN (ANALYZE, BUFFERS) of the statements the module sends (the one-statement
write of writes.sql, the load query, find queries), captured from real calls.
"""

from __future__ import annotations

import argparse
import random
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
from pyinstrument import Profiler

from bench import find, load, prune, rebuild, seed, variants
from bench.explain import capturing, explain, explain_admin, statement_times, top_statements
from bench.server import DATA, dedicated_database, server_dsn
from bench.writers import RAW_INSERT, RAW_TABLE, CommandWriter
from scripts_es import ScriptsModule
from scripts_es.domain import VersionRetentionPolicy
from scripts_es.queries import ScriptFindParams

OUT = DATA / "profiles"


def save(name: str, text: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / f"{name}.txt").write_text(text + "\n")
    print(f"[profile] {OUT / name}.txt")


def profiled(name: str, work: Callable[[], Any]) -> Any:
    profiler = Profiler(interval=0.0005)
    profiler.start()
    try:
        return work()
    finally:
        profiler.stop()
        save(name, profiler.output_text(unicode=True, color=False, show_all=False))


def _explain_writes(module: ScriptsModule, dsn: str, label: str) -> list[str]:
    """EXPLAIN ANALYZE of four consecutive writes and of the first one carrying a snapshot."""
    writer = CommandWriter(module, uuid.uuid4(), uuid.uuid4())
    for _ in range(50):
        writer.step()
    plans: list[str] = []
    explained: set[str] = set()

    def hook(text: str, params: Any) -> None:
        snap = isinstance(params, dict) and params.get("snap_version") is not None
        if 5 <= len(captured) <= 8 or (snap and "snap" not in explained):
            explained.add("snap" if snap else "plain")
            plan = explain(dsn, writer.t.session.tenant_id, text, params)
            kind = "with snapshot" if snap else "no snapshot"
            plans.append(f"-- write_script, {label}, write #{len(captured)} ({kind}):\n{plan}\n")

    def is_write(text: str) -> bool:
        return "INSERT INTO scripts_es.events" in text and "scripts_es.scripts" in text

    with capturing(is_write, hook) as captured:
        for _ in range(25):
            writer.step()
    return [f"-- the statement:\n{captured[0][0]}\n", *plans]


def commands(module: ScriptsModule, dsn: str, n: int) -> None:
    plans = _explain_writes(module, dsn, "inline projection")
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as events_only:
        plans += _explain_writes(events_only, dsn, "inline projection off")[1:]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
    raw = explain_admin(dsn, RAW_INSERT, (uuid.uuid4(), uuid.uuid4(), 1, "t", bytes(448)))
    save("explain_write", "\n".join(plans) + f"\n-- raw INSERT:\n{raw}\n")
    writer = CommandWriter(module, uuid.uuid4(), uuid.uuid4())
    for _ in range(50):
        writer.step()

    def run() -> None:
        for _ in range(n):
            writer.step()

    profiled("commands", run)


def loads(module: ScriptsModule, dsn: str) -> None:
    streams = load.build(module)
    t, ids = streams.t, streams.ids
    out = []
    for length, script_id in ids.items():
        with capturing(lambda text: "UNION ALL" in text and "snapshots" in text) as captured:
            t.scripts.find_by_id(script_id)
        text, params = captured[0]
        for generic in (False, True):
            plan = explain(dsn, t.session.tenant_id, text, params, warm=6, generic=generic)
            label = "generic plan (prepared)" if generic else "custom plan"
            out.append(f"-- load_stream, {length} events, {label}:\n{plan}\n")
    save("explain_load", f"{captured[0][0]}\n\n" + "\n".join(out))
    save("variant_load", variants.load_stream(dsn, streams))
    long = ids[10_000]
    profiled("load_10000", lambda: [t.scripts.find_by_id(long) for _ in range(300)])
    short = ids[10]
    profiled("load_10", lambda: [t.scripts.find_by_id(short) for _ in range(300)])


def reads(module: ScriptsModule, dsn: str, tenants: int, per_tenant: int) -> None:
    data = seed.new_dataset(tenants)
    seed.add_scripts(dsn, data, 0, per_tenant, seed=11)
    print(f"[profile] seeded {data.scripts} scripts, {data.events} events")
    with statement_times() as times:
        profiled("rebuild", module.rebuild_projections)
    save("rebuild_statements", top_statements(times))
    rebuild.analyze(dsn)
    rng = random.Random(5)
    mix = [(k, rng.choice(data.tenants), k.params(rng, data)) for k in find.KINDS * 60]
    sessions = {t: module.tenant(t, data.user_id).scripts for t in data.tenants}

    def run_mix() -> None:
        for _, tenant, p in mix:
            sessions[tenant].find(ScriptFindParams(**p))

    run_mix()
    profiled("find", run_mix)
    out = []
    for kind in find.KINDS:
        _, tenant, p = next(m for m in mix if m[0] is kind)
        with capturing(lambda text: "FROM scripts_es.scripts" in text.replace('"', "")) as c:
            sessions[tenant].find(ScriptFindParams(**p))
        text, params = c[-1]
        plan = explain(dsn, tenant, text, params, warm=6)
        generic = explain(dsn, tenant, text, params, warm=6, generic=True)
        out.append(f"-- find {kind.name}: {p}\n{text}\n{plan}\n-- generic plan:\n{generic}\n")
    save("explain_find", "\n".join(out))
    save("variant_rebuild", variants.rebuild(module))


def prunes(module: ScriptsModule, dsn: str, per_tenant: int) -> None:
    ids = prune.seed(module, dsn, 1, per_tenant, 100)
    policy = VersionRetentionPolicy(max_versions=5)
    with statement_times() as times:
        profiled("prune", lambda: module.prune_scripts(policy, tenant_id=ids[0]))
    save("prune_statements", top_statements(times))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--what", default="commands,load,read,prune")
    parser.add_argument("--commands", type=int, default=1_000)
    parser.add_argument("--tenants", type=int, default=200)
    parser.add_argument("--per-tenant", type=int, default=1_000)
    parser.add_argument("--prune-scripts", type=int, default=300)
    args = parser.parse_args(argv)
    what = set(args.what.split(","))
    dsn, _ = server_dsn()
    with dedicated_database(dsn) as db, ScriptsModule.open(db) as module:
        if "commands" in what:
            commands(module, db, args.commands)
        if "load" in what:
            loads(module, db)
        if "read" in what:
            reads(module, db, args.tenants, args.per_tenant)
        if "prune" in what:
            prunes(module, db, args.prune_scripts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""`python -m bench.profile_running`: where a claim's and a due()'s time goes (into
bench/.data/profiles/).

- claim: one worker and four, library and raw queue, on the same pending counts (is it
  latency per claim or contention between claims?); pyinstrument over one worker claiming
  alone (the client's share); the server's share per statement (the statements after the pick
  sent as EXPLAIN ANALYZE inside real claims, the pick explained just before each claim, rolled
  back); what the workers' server processes wait on (pg_stat_activity samples); variants (one
  Sync fewer, limit=10).
- due: p95 as it is, with the suggested query, and without parallel workers, at two sizes.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from contextlib import ExitStack
from typing import Any

import psycopg
from psycopg import sql
from pyinstrument import Profiler

from bench import running
from bench.concurrent import sample_waits
from bench.cpu import CpuMeter
from bench.explain import _text
from bench.profile import OUT, save
from bench.server import dedicated_database, server_dsn
from bench.timing import percentile
from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.service import workers, writes
from scripts_es.store.database import QUERIES


def _setup(module: ScriptsModule, dsn: str) -> list[Any]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(running.RAW_QUEUE)
        conn.execute(running.RAW_PENDING_INDEX)
    scripts = []
    for _ in range(4):
        tenant = uuid.uuid4()
        made = module.tenant(tenant, uuid.uuid4()).handle(
            c.CreateScript(name="claimed", content="print(1)", type="embedded")
        )
        scripts.append((tenant, made.id))
    return scripts


def _fill_raw(dsn: str, n: int) -> None:
    with psycopg.connect(dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO public.bench_raw_queue (status, payload) VALUES ('pending', %s)",
            [(running.RAW_PAYLOAD,)] * n,
        )


def rates(module: ScriptsModule, dsn: str, scripts: list[Any], n: int) -> dict[str, Any]:
    """Claims/s of 1 and 4 workers on each side, with CPU per claim and server waits."""
    libs = [ScriptsModule.open(dsn, install=False, pool_size=2) for _ in range(4)]
    conns = [psycopg.connect(dsn, autocommit=True, application_name="bench-raw") for _ in range(4)]
    out: dict[str, Any] = {}
    try:
        for workers in (1, 4):
            for side in ("scripts_es", "raw"):
                if side == "raw":
                    _fill_raw(dsn, n)
                    claims = [running._raw_worker(cn, f"worker-{i}") for i, cn in enumerate(conns)]
                else:
                    running._seed_pending(module, scripts, n)
                    claims = [running._lib_worker(m, f"worker-{i}") for i, m in enumerate(libs)]
                cpu = CpuMeter(dsn)
                waits: Counter[str] = Counter()
                done = threading.Event()
                with psycopg.connect(dsn, autocommit=True) as monitor:

                    def sample(
                        monitor: Any = monitor, waits: Counter[str] = waits, done: Any = done
                    ) -> None:
                        while not done.is_set():
                            sample_waits(monitor, 0.1, waits)

                    sampler = threading.Thread(target=sample)
                    sampler.start()
                    seconds, claimed = running._drain(claims[:workers], cpu)
                    done.set()
                    sampler.join()
                cpu.close()
                waits.pop("idle", None)  # the other pools' connections (and between claims)
                total = sum(waits.values()) or 1
                out[f"{side}_{workers}"] = {
                    "claims_per_s": round(sum(map(len, claimed)) / seconds, 1),
                    **cpu.per_op_ms(n),
                    "server_waits": {k: round(v / total, 3) for k, v in waits.most_common(8)},
                }
    finally:
        for m in libs:
            m.close()
        for cn in conns:
            cn.close()
    return out


def client_profile(module: ScriptsModule, dsn: str, scripts: list[Any], n: int) -> None:
    running._seed_pending(module, scripts, n)
    with ScriptsModule.open(dsn, install=False, pool_size=2) as worker:
        worker.claim("warm", limit=1)
        profiler = Profiler(interval=0.0002)
        profiler.start()
        while worker.claim("worker-0", limit=1, lease=60):
            pass
        profiler.stop()
    save("claim_client", profiler.output_text(unicode=True, color=False, show_all=False))


PICK_PARTS = {
    "pick: candidates (SKIP LOCKED) + stream lock": (
        "WITH candidates AS MATERIALIZED (SELECT x.tenant_id, x.id, x.queued_at AS since "
        "FROM scripts_es.executions x WHERE x.status = 'pending' "
        "ORDER BY x.queued_at, x.tenant_id, x.id LIMIT 1 FOR UPDATE SKIP LOCKED) "
        "SELECT c.tenant_id, c.id FROM candidates c "
        "WHERE pg_try_advisory_xact_lock(scripts_es.stream_key(c.id))"
    ),
    "pick: the whole function": ("SELECT * FROM scripts_es.pick_executions('pending', 1, now())"),
    "raw: the queue's UPDATE": running.RAW_CLAIM,
}


def _execution_ms(plan: str) -> float:
    match = re.search(r"Execution Time: ([0-9.]+) ms", plan)
    return float(match.group(1)) if match else float("nan")


def server_statements(module: ScriptsModule, dsn: str, scripts: list[Any], n: int) -> str:
    """Server time of each statement of `n` real claims.

    The statements after the pick (head check, event append with the read-model row) are sent
    as EXPLAIN ANALYZE in the claim's own transaction, which runs them for real and commits; the
    pick, whose rows the claim needs, is explained just before each claim on another connection
    (same state, rolled back), with its parts, and so is the raw queue's UPDATE.
    """
    running._seed_pending(module, scripts, n + 1)  # one more for the warm-up claim
    _fill_raw(dsn, n)
    times: dict[str, list[float]] = {}
    plans: dict[str, str] = {}
    explained: list[tuple[str, Any]] = []
    original = psycopg.Connection.execute

    def execute(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
        text = _text(self, query)
        if "pick_executions" in text or not text.lstrip().upper().startswith(("SELECT", "WITH")):
            return original(self, query, params, **kw)
        cursor = original(self, "EXPLAIN (ANALYZE, BUFFERS) " + text, params, **kw)
        explained.append((" ".join(text.split())[:60], cursor))
        return cursor

    with (
        ScriptsModule.open(dsn, install=False, pool_size=2) as worker,
        psycopg.connect(dsn) as side,
    ):
        worker.claim("warm", limit=1)
        for _ in range(n):
            side.execute("SET LOCAL ROLE scripts_es_maint")
            for key, query in PICK_PARTS.items():
                if key.startswith("raw"):
                    side.execute("RESET ROLE")
                params = ("worker-x",) if "%s" in query else None
                rows = side.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
                plan = "\n".join(r[0] for r in rows)
                times.setdefault(key, []).append(_execution_ms(plan))
                plans.setdefault(key, plan)
            side.rollback()
            psycopg.Connection.execute = execute  # type: ignore[method-assign]
            try:
                assert worker.claim("worker-0", limit=1, lease=60)
            finally:
                psycopg.Connection.execute = original  # type: ignore[method-assign]
            for key, cursor in explained:
                plan = "\n".join(r[0] for r in cursor.fetchall())
                times.setdefault(key, []).append(_execution_ms(plan))
                plans.setdefault(key, plan)
            explained.clear()
    lines = [
        f"{statistics.median(v):8.3f} ms median, {max(v):8.3f} max, over {len(v)}:  {k}"
        for k, v in times.items()
    ]
    return "\n".join(lines) + "\n\n" + "\n\n".join(f"-- {k}\n{p}" for k, p in plans.items())


def _pick_and_write_one_sync(
    db: Any,
    store: Any,
    cache: Any,
    settings: Any,
    due: str,
    limit: int,
    now: Any,
    decide: Any,
) -> list[Any]:
    """scripts_es.service.workers._pick_and_write with COMMIT sent inside the pipeline, so the
    pipeline's exit is the one Sync: two round trips instead of three (commit() inside a
    pipeline syncs, and leaving the pipeline syncs again)."""
    done: list[Any] = []
    with db.maintenance_connection() as conn, conn.pipeline():
        cursor = conn.execute(
            QUERIES["pick_executions"],
            {"due": due, "limit": limit, "now": now},
            prepare=True,
        )
        for run in workers._fold(store, cursor.fetchall()):
            changed = decide(run)
            if changed is None:
                continue
            for statement in writes.append(
                store, run.tenant_id, changed, project=settings.inline_projections
            ):
                conn.execute(statement.query, statement.params, prepare=True)
            done.append(changed.without_pending())
        conn.execute("COMMIT")
    for run in done:
        cache.put(run)
    return done


def _claimer(module: ScriptsModule, name: str, limit: int) -> Callable[[], list[Any]]:
    return lambda: module.claim(name, limit=limit, lease=60)


def variants(module: ScriptsModule, dsn: str, scripts: list[Any], n: int, rounds: int) -> str:
    """4 workers: the claim as it is, with one sync fewer, and with limit=10; interleaved."""
    libs = [ScriptsModule.open(dsn, install=False, pool_size=2) for _ in range(4)]
    original = workers._pick_and_write
    kinds = {
        "as is (limit=1)": (original, 1),
        "COMMIT inside the pipeline (limit=1)": (_pick_and_write_one_sync, 1),
        "as is, limit=10": (original, 10),
    }
    got: dict[str, list[float]] = {k: [] for k in kinds}
    try:
        for r in range(rounds):
            for kind, (pick, limit) in list(kinds.items())[r % 3 :] + list(kinds.items())[: r % 3]:
                running._seed_pending(module, scripts, n)
                claims = [_claimer(m, f"worker-{i}", limit) for i, m in enumerate(libs)]
                workers._pick_and_write = pick
                try:
                    cpu = CpuMeter(dsn)
                    seconds, claimed = running._drain(claims, cpu)
                    cpu.close()
                finally:
                    workers._pick_and_write = original
                ids = [run.id for runs in claimed for run in runs]
                assert len(ids) == len(set(ids)) == n, (kind, len(ids), len(set(ids)))
                got[kind].append(len(ids) / seconds)
    finally:
        for m in libs:
            m.close()
    return "\n".join(
        f"{statistics.median(v):8.1f} claims/s median of {[round(x) for x in v]}  {k}"
        for k, v in got.items()
    )


def due_variants(admin_dsn: str, small: int, large: int, reps: int) -> str:
    """p95 of due() as it is, with the suggested query (no join), and as it is without parallel
    workers (ALTER DATABASE ... SET max_parallel_workers_per_gather = 0, fresh connections), at
    two sizes, interleaved, each with ~150 due and with all due (a backlog) on one connection,
    as the bench does: the backlog's costly custom plans make the server settle on the generic
    plan of the prepared statement, which at 100k scripts is a parallel one."""
    with ExitStack() as stack:
        sets = {
            n: running.DueSet(stack, admin_dsn, 100, k)
            for n, k in (("small", small), ("large", large))
        }
        modules: dict[str, dict[str, ScriptsModule]] = {}
        for name, d in sets.items():
            d.sample("window", record=False)  # the as-is module's connection opens first
            with psycopg.connect(d.dsn, autocommit=True) as conn:
                db = conn.execute("SELECT current_database()").fetchone()
                assert db is not None
                conn.execute(
                    sql.SQL("ALTER DATABASE {} SET max_parallel_workers_per_gather = 0").format(
                        sql.Identifier(db[0])
                    )
                )
            serial = stack.enter_context(ScriptsModule.open(d.dsn, install=False, pool_size=2))
            modules[name] = {"as is": d.module, "no join": d.module, "no parallel": serial}
        settings = {
            f"{name} {kind}": _show_parallel(m)
            for name, ms in modules.items()
            for kind, m in ms.items()
        }
        times: dict[str, list[float]] = {}
        original = QUERIES["due_runs"]
        for i in range(-20, reps):
            for name, d in sets.items():
                for kind, module in modules[name].items():
                    for mode, until in (("window", d.window), ("backlog", d.backlog)):
                        QUERIES["due_runs"] = running.NO_JOIN if kind == "no join" else original
                        try:
                            t0 = time.perf_counter()
                            runs = module.due(until, limit=running.DUE_LIMIT)
                            elapsed = time.perf_counter() - t0
                        finally:
                            QUERIES["due_runs"] = original
                        assert len(runs) == running.DUE_LIMIT
                        if i >= 0:
                            times.setdefault(f"{name} {kind} {mode}", []).append(elapsed)
    lines = [f"max_parallel_workers_per_gather seen by each module: {settings}"]
    for mode in ("window", "backlog"):
        for kind in ("as is", "no join", "no parallel"):
            a, b = times[f"small {kind} {mode}"], times[f"large {kind} {mode}"]
            lines.append(
                f"{mode:8s}{kind:12s} p95 {percentile(a, 95) * 1e3:7.3f} ms ({small}) → "
                f"{percentile(b, 95) * 1e3:7.3f} ms ({large}): ratio "
                f"{percentile(b, 95) / percentile(a, 95):.3f}; medians "
                f"{statistics.median(a) * 1e3:.3f} → {statistics.median(b) * 1e3:.3f} ms"
            )
    return "\n".join(lines)


def _show_parallel(module: ScriptsModule) -> str:
    with module.db.maintenance() as conn:
        row = conn.execute("SHOW max_parallel_workers_per_gather").fetchone()
    return str(row[0]) if row else "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_running", description=__doc__)
    parser.add_argument("--items", type=int, default=1_000)
    parser.add_argument("--what", default="claim,due")
    parser.add_argument("--due", default="10000,100000", help="cron scripts: small,large")
    parser.add_argument("--due-reps", type=int, default=1_000)
    args = parser.parse_args(argv)
    dsn, _ = server_dsn()
    what = set(args.what.split(","))
    if "due" in what:
        small, large = (int(x) for x in args.due.split(","))
        save("due_variants", due_variants(dsn, small, large, args.due_reps))
    if "claim" not in what:
        return 0
    with dedicated_database(dsn) as db, ScriptsModule.open(db) as module:
        scripts = _setup(module, db)
        measured = rates(module, db, scripts, args.items)
        save("claim_rates", json.dumps(measured, indent=2))
        client_profile(module, db, scripts, args.items)
        save("claim_server_statements", server_statements(module, db, scripts, 40))
        save("claim_variants", variants(module, db, scripts, args.items, rounds=3))
    print(f"[profile] see {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

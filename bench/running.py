"""Running scripts (issue 13): claim_ratio / claim_per_s and due_scaling.

claim: 4 worker threads, each with its own ScriptsModule, call `module.claim(worker, limit=1)`
until the queue is empty; the baseline is the textbook SKIP LOCKED queue on the same server (a
table with a partial index on pending, one autocommit UPDATE ... RETURNING per claim), drained
by 4 threads with a connection each. Both sides get the same number of pending items, made
beforehand (not timed); rounds alternate which side goes first. Afterwards every item must have
been claimed exactly once, by the worker that got it back, on both sides.

due: p95 of `module.due(until, limit=100)` with few vs many enabled cron scripts (two databases,
seeded alike, queried interleaved), `until` chosen so that about 150 scripts are due; and the
same with every script overdue (a backlog). The plan of the statement due() sends must read the
schedule index in order, not sort the table.
"""

from __future__ import annotations

import random
import re
import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from bench import rebuild
from bench.cpu import CpuMeter
from bench.explain import capturing, explain
from bench.seed import EVENT_COLUMNS
from bench.server import DATA, dedicated_database
from bench.timing import percentile, ratio, summary_ms
from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Script
from scripts_es.store.mapper import PydanticMapper

WORKERS = 4
RAW_QUEUE = """
CREATE TABLE IF NOT EXISTS public.bench_raw_queue (
    id               bigserial PRIMARY KEY,
    status           text NOT NULL,
    worker           text,
    lease_expires_at timestamptz,
    payload          jsonb
)"""
RAW_PENDING_INDEX = (
    "CREATE INDEX IF NOT EXISTS bench_raw_queue_pending_idx "
    "ON public.bench_raw_queue (id) WHERE status = 'pending'"
)
RAW_CLAIM = (
    "UPDATE public.bench_raw_queue SET status = 'running', worker = %s, "
    "lease_expires_at = now() + interval '60 s' "
    "WHERE id = (SELECT id FROM public.bench_raw_queue WHERE status = 'pending' "
    "ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING id"
)
RAW_PAYLOAD = '{"trigger": {"type": "api"}, "input": {}}'


# -- claim ------------------------------------------------------------------------------------


def _drain(
    workers: Sequence[Callable[[], list[Any]]], cpu: CpuMeter
) -> tuple[float, list[list[Any]]]:
    """Run every worker's claim loop in its own thread from one start; (seconds, claimed)."""
    claimed: list[list[Any]] = [[] for _ in workers]
    start = threading.Barrier(len(workers) + 1)
    errors: list[BaseException] = []

    def loop(i: int) -> None:
        try:
            start.wait()
            while got := workers[i]():
                claimed[i].extend(got)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(len(workers))]
    for thread in threads:
        thread.start()
    cpu.start()
    began = time.perf_counter()
    start.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    cpu.stop()
    if errors:
        raise errors[0]
    return seconds, claimed


def _seed_pending(module: ScriptsModule, scripts: list[tuple[UUID, UUID]], n: int) -> set[UUID]:
    """`n` pending executions spread over the (tenant, script) pairs, one thread per tenant."""
    user = uuid.uuid4()
    share = [n // len(scripts) + (i < n % len(scripts)) for i in range(len(scripts))]

    def enqueue(pair: tuple[UUID, UUID], count: int) -> list[UUID]:
        t = module.tenant(pair[0], user)
        trigger = {"type": "api"}
        return [
            t.handle(c.EnqueueExecution(script_id=pair[1], trigger=trigger)).id
            for _ in range(count)
        ]

    with ThreadPoolExecutor(len(scripts)) as pool:
        made = [x for ids in pool.map(enqueue, scripts, share) for x in ids]
    return set(made)


def _check_library(dsn: str, seeded: set[UUID], claimed: list[list[Any]]) -> dict[str, int]:
    """Each seeded execution claimed once, by the worker that got it; one start event each."""
    got = Counter(run.id for runs in claimed for run in runs)
    by_worker = {run.id: run.worker for runs in claimed for run in runs}
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT id, status, worker FROM scripts_es.executions WHERE id = ANY(%s)",
            (list(seeded),),
        ).fetchall()
        starts = conn.execute(
            "SELECT originator_id, count(*) FROM scripts_es.events "
            "WHERE originator_id = ANY(%s) AND topic LIKE '%%ExecutionStarted%%' GROUP BY 1",
            (list(seeded),),
        ).fetchall()
        pending = conn.execute(
            "SELECT count(*) FROM scripts_es.executions WHERE status = 'pending'"
        ).fetchone()
    start_counts: dict[UUID, int] = {row[0]: row[1] for row in starts}
    return {
        "claimed": sum(got.values()),
        "double_claims": sum(n - 1 for n in got.values() if n > 1),
        "missed": len(seeded - set(got)),
        "foreign": len(set(got) - seeded),
        "not_running": sum(1 for _, status, _ in rows if status != "running"),
        "wrong_worker": sum(1 for i, _, w in rows if by_worker.get(i) != w),
        "start_events_not_one": sum(1 for i in seeded if start_counts.get(i, 0) != 1),
        "left_pending": pending[0] if pending else -1,
    }


def _check_raw(
    conn: psycopg.Connection[Any], seeded: set[int], claimed: list[list[Any]]
) -> dict[str, int]:
    got = Counter(row_id for ids in claimed for row_id, _ in ids)
    by_worker = {row_id: worker for ids in claimed for row_id, worker in ids}
    rows = conn.execute(
        "SELECT id, status, worker FROM public.bench_raw_queue WHERE id = ANY(%s)",
        (list(seeded),),
    ).fetchall()
    pending = conn.execute(
        "SELECT count(*) FROM public.bench_raw_queue WHERE status = 'pending'"
    ).fetchone()
    return {
        "claimed": sum(got.values()),
        "double_claims": sum(n - 1 for n in got.values() if n > 1),
        "missed": len(seeded - set(got)),
        "foreign": len(set(got) - seeded),
        "not_running": sum(1 for _, status, _ in rows if status != "running"),
        "wrong_worker": sum(1 for i, _, w in rows if by_worker.get(i) != w),
        "left_pending": pending[0] if pending else -1,
    }


def _raw_worker(conn: psycopg.Connection[Any], name: str) -> Callable[[], list[Any]]:
    def claim() -> list[Any]:
        row = conn.execute(RAW_CLAIM, (name,), prepare=True).fetchone()
        return [] if row is None else [(row[0], name)]

    return claim


def _lib_worker(module: ScriptsModule, name: str) -> Callable[[], list[Any]]:
    return lambda: module.claim(name, limit=1, lease=60)


def measure_claim(
    module: ScriptsModule, dsn: str, *, items: int, rounds: int, tenants: int = 4
) -> dict[str, Any]:
    """`rounds` × (seed `items` of each kind, drain both), alternating which side goes first."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(RAW_QUEUE)
        conn.execute(RAW_PENDING_INDEX)
    user = uuid.uuid4()
    scripts = []
    for _ in range(tenants):
        tenant = uuid.uuid4()
        made = module.tenant(tenant, user).handle(
            c.CreateScript(name="claimed", content="print(1)", type="embedded")
        )
        scripts.append((tenant, made.id))
    names = [f"worker-{i}" for i in range(WORKERS)]
    libs = [ScriptsModule.open(dsn, install=False, pool_size=2) for _ in names]
    conns = [psycopg.connect(dsn, autocommit=True, application_name="bench-raw") for _ in names]
    sides = {
        "scripts_es": [_lib_worker(m, n) for m, n in zip(libs, names, strict=True)],
        "raw": [_raw_worker(cn, n) for cn, n in zip(conns, names, strict=True)],
    }
    rates: dict[str, list[float]] = {"scripts_es": [], "raw": []}
    cpu = {side: CpuMeter(dsn) for side in sides}
    checks: dict[str, list[dict[str, int]]] = {"scripts_es": [], "raw": []}
    seed_seconds = 0.0
    try:
        for claim in (*sides["scripts_es"], *sides["raw"]):  # connect, prepare (empty queues)
            for _ in range(3):
                assert claim() == []
        with psycopg.connect(dsn, autocommit=True) as admin:
            for r in range(rounds):
                t0 = time.perf_counter()
                seeded = _seed_pending(module, scripts, items)
                with admin.cursor() as cur:
                    cur.executemany(
                        "INSERT INTO public.bench_raw_queue (status, payload) "
                        "VALUES ('pending', %s) RETURNING id",
                        [(RAW_PAYLOAD,)] * items,
                        returning=True,
                    )
                    raw_ids: set[int] = set()
                    while True:
                        row = cur.fetchone()
                        if row is not None:
                            raw_ids.add(row[0])
                        if not cur.nextset():
                            break
                admin.execute("ANALYZE public.bench_raw_queue")
                admin.execute("ANALYZE scripts_es.executions")
                seed_seconds += time.perf_counter() - t0
                order = ("scripts_es", "raw") if r % 2 == 0 else ("raw", "scripts_es")
                for side in order:
                    seconds, claimed = _drain(sides[side], cpu[side])
                    rates[side].append(items / seconds)
                    if side == "raw":
                        checks[side].append(_check_raw(admin, raw_ids, claimed))
                    else:
                        checks[side].append(_check_library(dsn, seeded, claimed))
    finally:
        for m in libs:
            m.close()
        for cn in conns:
            cn.close()
        for meter in cpu.values():
            meter.close()
    per_round = [a / b for a, b in zip(rates["scripts_es"], rates["raw"], strict=True)]
    total = items * rounds
    return {
        "claim_ratio": round(statistics.median(per_round), 4),
        "claim_per_s": round(statistics.median(rates["scripts_es"]), 1),
        "claim": {
            "workers": WORKERS,
            "items_per_round": items,
            "rounds": rounds,
            "tenants": tenants,
            "scripts_es_claims_per_s": round(statistics.median(rates["scripts_es"]), 1),
            "raw_claims_per_s": round(statistics.median(rates["raw"]), 1),
            "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "ratio_per_round": [round(x, 4) for x in per_round],
            "cpu_ms_per_claim": {side: m.per_op_ms(total) for side, m in cpu.items()},
            "seed_seconds": round(seed_seconds, 2),
            "checks": checks,
            "exactly_once": all(
                ch["double_claims"] == ch["missed"] == ch["foreign"] == ch["not_running"] == 0
                and ch["wrong_worker"] == ch["left_pending"] == 0
                and ch["claimed"] == items
                and ch.get("start_events_not_one", 0) == 0
                for side in checks.values()
                for ch in side
            ),
        },
    }


# -- due --------------------------------------------------------------------------------------

BASE = datetime(2030, 6, 1, tzinfo=UTC)  # the scripts were last changed in the 30 days before
CRON = {"cron_expression": "*/5 * * * *", "timezone": "UTC"}
DUE_LIMIT = 100
WINDOW = 150  # `until` is the slot of the 150th script due: ~150 due, due() returns 100


def seed_cron(admin_dsn: str, tenants: list[UUID], per_tenant: int, seed: int) -> dict[str, Any]:
    """COPY the ScriptCreated events of enabled cron scripts (made by the domain, stored by the
    module's mapper) into the store, changed at random instants of the 30 days before BASE."""
    rng = random.Random(seed)
    mapper = PydanticMapper()
    user = uuid.uuid4()
    started = time.perf_counter()
    rows = 0
    with psycopg.connect(admin_dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY scripts_es.events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for index in range(per_tenant):
                for tenant in tenants:
                    at = BASE - timedelta(seconds=rng.uniform(0, 30 * 86_400))
                    script = Script.create(
                        tenant_id=tenant,
                        created_by=user,
                        name=f"cron {index}",
                        description="",
                        content="x",
                        type="cron",
                        metadata=CRON,
                        tags=[],
                        id=UUID(int=rng.getrandbits(128), version=4),
                        at=at,
                    )
                    for event in script.pending_events:
                        stored = mapper.to_stored_event(event)
                        copy.write_row(
                            (
                                tenant,
                                stored.originator_id,
                                stored.originator_version,
                                stored.topic,
                                stored.state,
                                event.timestamp,
                            )
                        )
                        rows += 1
        conn.execute("ANALYZE scripts_es.events")
    return {"events": rows, "copy_seconds": round(time.perf_counter() - started, 2)}


def explain_maint(admin_dsn: str, query: str, params: Any, *, generic: bool) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of `query` as the maintenance role (due()'s), rolled back."""
    return explain(admin_dsn, None, query, params, warm=3, generic=generic, role="scripts_es_maint")


def plan_ok(plan: str) -> bool:
    """The schedule index read in order under the LIMIT, no Sort node anywhere."""
    return bool(IN_ORDER.search(plan)) and not SORT.search(plan)


def facts(plan: str) -> dict[str, Any]:
    """What a plan's shape says: the index in order, tables read whole, parallel workers."""
    return {
        "index_in_order": plan_ok(plan),
        "seq_scans": re.findall(r"Seq Scan on (\w+)", plan),
        "parallel": "Gather" in plan,
        "execution_ms": float(m.group(1)) if (m := EXECUTION.search(plan)) else None,
        "shape": plan_shape(plan),
    }


EXECUTION = re.compile(r"Execution Time: ([0-9.]+) ms")


IN_ORDER = re.compile(r"Index (Only )?Scan using script_schedules_due_idx")
SORT = re.compile(r"(^|->)\s*(Incremental )?Sort\b", re.M)


def plan_shape(plan: str) -> list[str]:
    """The plan's nodes without costs and timings: `Limit / Nested Loop / Index Scan ...`."""
    nodes = []
    for line in plan.splitlines():
        stripped = line.strip().removeprefix("-> ").strip()
        if line.startswith("  ") and not line.lstrip().startswith("->"):
            continue  # a node's detail (Buffers, Index Cond, ...)
        if stripped.startswith(("Planning", "Execution")):
            continue
        depth = (len(line) - len(line.lstrip()) + 4) // 6
        nodes.append("  " * depth + stripped.split("  (")[0])
    return nodes


class DueSet:
    """One database of enabled cron scripts and its module."""

    def __init__(self, stack: ExitStack, admin_dsn: str, tenants: int, scripts: int) -> None:
        self.dsn = stack.enter_context(dedicated_database(admin_dsn))
        self.module = stack.enter_context(ScriptsModule.open(self.dsn))
        self.scripts = scripts
        per_tenant = scripts // tenants
        seeded = seed_cron(self.dsn, [uuid.uuid4() for _ in range(tenants)], per_tenant, seed=13)
        t0 = time.perf_counter()
        report = self.module.rebuild_projections()
        self.facts: dict[str, Any] = {
            **seeded,
            "rebuild_seconds": round(time.perf_counter() - t0, 2),
            "rebuild_events": report.events,
        }
        rebuild.analyze(self.dsn)
        with psycopg.connect(self.dsn) as conn:
            count, first, last = conn.execute(
                "SELECT count(*), min(next_fire_at), max(next_fire_at) "
                "FROM scripts_es.script_schedules"
            ).fetchone() or (0, None, None)
            nth = conn.execute(
                "SELECT next_fire_at FROM scripts_es.script_schedules "
                "ORDER BY next_fire_at, tenant_id, script_id OFFSET %s LIMIT 1",
                (WINDOW - 1,),
            ).fetchone()
            assert nth is not None
            self.window: datetime = nth[0]
            due = conn.execute(
                "SELECT count(*) FROM scripts_es.script_schedules WHERE next_fire_at <= %s",
                (self.window,),
            ).fetchone()
        assert count == tenants * per_tenant, f"{count} schedule rows for {scripts} cron scripts"
        self.backlog = last + timedelta(days=1)
        self.facts.update(
            schedule_rows=count,
            next_fire_from=str(first),
            next_fire_to=str(last),
            window_until=str(self.window),
            due_in_window=due[0] if due else None,
        )
        self.times: dict[str, list[float]] = {"window": [], "backlog": []}
        self.bad = 0

    def sample(self, mode: str, record: bool) -> None:
        until = self.window if mode == "window" else self.backlog
        t0 = time.perf_counter()
        runs = self.module.due(until, limit=DUE_LIMIT)
        elapsed = time.perf_counter() - t0
        if record:
            self.times[mode].append(elapsed)
        keys = [(r.scheduled_for, r.tenant_id, r.script_id) for r in runs]
        self.bad += len(runs) != DUE_LIMIT or keys != sorted(keys) or keys[-1][0] > until

    def first_calls(self, calls: int = 12) -> dict[str, list[float]]:
        """Latencies (ms) of the first due() calls of a fresh module: custom plans, then the
        prepared statement's (psycopg prepares at the 5th; the server plans the first five
        executions of a prepared statement with the values too before settling on a generic plan).
        """
        out: dict[str, list[float]] = {}
        for mode, until in (("window", self.window), ("backlog", self.backlog)):
            with ScriptsModule.open(self.dsn, install=False, pool_size=2) as fresh:
                times = []
                for _ in range(calls):
                    t0 = time.perf_counter()
                    fresh.due(until, limit=DUE_LIMIT)
                    times.append(round((time.perf_counter() - t0) * 1e3, 3))
            out[mode] = times
        return out

    def plans(self, name: str) -> dict[str, Any]:
        def is_due(text: str) -> bool:
            return "script_schedules" in text and "next_fire_at <=" in text

        out: dict[str, Any] = {}
        for mode, until in (("window", self.window), ("backlog", self.backlog)):
            with capturing(is_due) as captured:
                self.module.due(until, limit=DUE_LIMIT)
            text, params = captured[-1]
            # The package's query, then the suggestion (the version per row instead of a join).
            for query, suffix in ((text, ""), (NO_JOIN, "_no_join")):
                for generic in (False, True):
                    plan = explain_maint(self.dsn, query, params, generic=generic)
                    label = f"{mode}_{'generic' if generic else 'custom'}{suffix}"
                    out[label] = facts(plan)
                    what = "due()" if not suffix else "suggested query"
                    PLANS.append(f"-- {what}, {name} ({self.scripts} cron scripts), {label}:\n")
                    PLANS.append(f"{query}\n{plan}\n" if suffix else f"{plan}\n")
        return out


PLANS: list[str] = []
# due_runs (scripts_es/store/queries.sql) without the join: the version read per returned row,
# so the planner no longer misjudges a two-column join (it estimates 1-7 rows for 150) and sees
# one table under ORDER BY ... LIMIT. The same rows while every schedule row has its script.
NO_JOIN = """SELECT s.tenant_id, s.script_id,
       (SELECT sc.version FROM scripts_es.scripts sc
        WHERE sc.tenant_id = s.tenant_id AND sc.id = s.script_id) AS version,
       s.next_fire_at
FROM scripts_es.script_schedules s
WHERE s.next_fire_at <= %(until)s
ORDER BY s.next_fire_at, s.tenant_id, s.script_id
LIMIT %(limit)s"""


def _plans_ok(plans: dict[str, dict[str, Any]], kind: str) -> bool:
    """Whether every plan of `kind` (label suffix) reads the due index in order, unsorted."""
    labels = [(label, p) for plan in plans.values() for label, p in plan.items()]
    return all(p["index_in_order"] for label, p in labels if label.split("_", 1)[1] == kind)


def measure_due(
    admin_dsn: str, *, small: int, large: int, tenants: int, reps: int
) -> dict[str, Any]:
    PLANS.clear()
    with ExitStack() as stack:
        sets = {
            "small": DueSet(stack, admin_dsn, tenants, small),
            "large": DueSet(stack, admin_dsn, tenants, large),
        }
        for i in range(-20, reps):  # the negative ones warm up (pool, prepared statement)
            order = ("small", "large") if i % 2 else ("large", "small")
            for mode in ("window", "backlog"):
                for name in order:
                    sets[name].sample(mode, record=i >= 0)
        plans = {name: s.plans(name) for name, s in sets.items()}
        first = {name: s.first_calls() for name, s in sets.items()}
        DATA.joinpath("profiles").mkdir(parents=True, exist_ok=True)
        DATA.joinpath("profiles", "explain_due.txt").write_text("\n".join(PLANS))
    s, big = sets["small"], sets["large"]

    def p95(d: DueSet, mode: str) -> float:
        return percentile(d.times[mode], 95)

    return {
        "due_scaling": ratio(p95(big, "window"), p95(s, "window")),
        "due": {
            "scripts": {"small": small, "large": large},
            "tenants": tenants,
            "limit": DUE_LIMIT,
            "small_p95_ms": round(p95(s, "window") * 1e3, 4),
            "large_p95_ms": round(p95(big, "window") * 1e3, 4),
            "small": summary_ms(s.times["window"]),
            "large": summary_ms(big.times["window"]),
            "backlog_scaling": ratio(p95(big, "backlog"), p95(s, "backlog")),
            "backlog_small": summary_ms(s.times["backlog"]),
            "backlog_large": summary_ms(big.times["backlog"]),
            "wrong_answers": s.bad + big.bad,
            "plan_ok_generic": _plans_ok(plans, "generic"),
            "plan_ok_custom": _plans_ok(plans, "custom"),
            "plan_ok_custom_no_join": _plans_ok(plans, "custom_no_join"),
            "plan_ok_generic_no_join": _plans_ok(plans, "generic_no_join"),
            "parallel_plans": sorted(
                f"{name}.{label}"
                for name, plan in plans.items()
                for label, p in plan.items()
                if p["parallel"]
            ),
            "first_calls_ms": first,
            "seeding": {"small": s.facts, "large": big.facts},
            "plans": plans,
        },
    }

"""concurrent_scaling: throughput of 4 writers on distinct scripts ÷ 1 writer.

Writers are processes (spawn), so the GIL hides nothing. Four of them start once; each opens its
own ScriptsModule and its own connection for the bare INSERT baseline, and warms both up. Then
every run tells 1 or 4 of them to write one kind for a fixed time from a common start instant;
runs of both kinds and both sizes alternate, round after round, so load from elsewhere hits them
alike. While a run goes, this process samples what the writers' server processes wait on.
"""

from __future__ import annotations

import multiprocessing
import queue
import statistics
import time
import uuid
from collections import Counter
from typing import Any
from uuid import UUID

import psycopg

from bench.timing import ratio
from bench.writers import RAW_TABLE

TIMEOUT = 180.0
SAMPLE = """
SELECT CASE WHEN state <> 'active' THEN state
            ELSE coalesce(wait_event_type || ':' || wait_event, 'on CPU') END, count(*)
FROM pg_stat_activity
WHERE datname = current_database() AND application_name IN ('scripts-es', 'bench-raw')
  AND pid <> pg_backend_pid()
GROUP BY 1"""


def _worker(
    dsn: str, tenant_id: UUID, shape: tuple[str, int], warmup: int, orders: Any, results: Any
) -> None:
    from bench.writers import CommandWriter, RawWriter
    from scripts_es import ScriptsModule

    module = ScriptsModule.open(dsn, install=False, pool_size=2)
    writers: dict[str, Any] = {
        "scripts_es": CommandWriter(module, tenant_id, uuid.uuid4()),
        "raw": RawWriter(dsn, *shape, create=False),
    }
    try:
        serve(writers, warmup, orders, results)
    finally:
        writers["raw"].close()
        module.close()


def serve(writers: dict[str, Any], warmup: int, orders: Any, results: Any) -> None:
    """A writer process's loop: warm every writer up, say "ready", then for each order
    (kind, start instant, duration) step that kind's writer from the instant for the
    duration and answer (steps done, seconds); a None order ends it."""
    for writer in writers.values():
        for _ in range(warmup):
            writer.step()
    results.put("ready")
    while (order := orders.get(timeout=TIMEOUT)) is not None:
        kind, start_at, duration = order
        step = writers[kind].step
        time.sleep(max(0.0, start_at - time.time()))
        start = time.perf_counter()
        deadline = start + duration
        done = 0
        while time.perf_counter() < deadline:
            step()
            done += 1
        results.put((done, time.perf_counter() - start))


def _get(results: Any, processes: list[Any]) -> Any:
    """The next result, failing fast if a writer process died."""
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        try:
            return results.get(timeout=1.0)
        except queue.Empty:
            dead = [p.exitcode for p in processes if p.exitcode not in (None, 0)]
            if dead:
                raise RuntimeError(f"a writer process failed (exit codes {dead})") from None
    raise TimeoutError("the writer processes did not answer")


def sample_waits(conn: psycopg.Connection[Any], duration: float, counts: Counter[str]) -> None:
    """Count what the writers' server processes are doing, every 10 ms for `duration`."""
    deadline = time.perf_counter() + duration
    while time.perf_counter() < deadline:
        for what, n in conn.execute(SAMPLE).fetchall():
            counts[what] += n
        time.sleep(0.01)


def measure(
    dsn: str, shape: tuple[str, int], *, rounds: int, duration: float, warmup: int, many: int = 4
) -> dict[str, Any]:
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    queues = [ctx.Queue() for _ in range(many)]
    tenant_id = uuid.uuid4()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(RAW_TABLE)
    processes = [
        ctx.Process(target=_worker, args=(dsn, tenant_id, shape, warmup, q, results), daemon=True)
        for q in queues
    ]
    for process in processes:
        process.start()
    rates: dict[str, list[float]] = {}
    waits: dict[str, Counter[str]] = {}
    runs = [(kind, n) for kind in ("scripts_es", "raw") for n in (1, many)]
    try:
        for _ in processes:
            assert _get(results, processes) == "ready"
        with psycopg.connect(dsn, autocommit=True) as monitor:
            for r in range(rounds):
                for kind, n in runs[r % len(runs) :] + runs[: r % len(runs)]:
                    for q in queues[:n]:
                        q.put((kind, time.time() + 0.2, duration))
                    time.sleep(0.25)
                    counts = waits.setdefault(f"{kind}_{n}", Counter())
                    sample_waits(monitor, duration * 0.9, counts)
                    outcomes = [_get(results, processes) for _ in range(n)]
                    rate = sum(done / elapsed for done, elapsed in outcomes)
                    rates.setdefault(f"{kind}_{n}", []).append(rate)
    finally:
        for q in queues:
            q.put(None)
        for process in processes:
            process.join(timeout=30)
    return _report(rates, waits, many, duration, rounds)


def _report(
    rates: dict[str, list[float]],
    waits: dict[str, Counter[str]],
    many: int,
    duration: float,
    rounds: int,
) -> dict[str, Any]:
    scaling = {
        kind: statistics.median(
            a / b for a, b in zip(rates[f"{kind}_{many}"], rates[f"{kind}_1"], strict=True)
        )
        for kind in ("scripts_es", "raw")
    }
    median = {name: round(statistics.median(values), 1) for name, values in rates.items()}
    shares = {
        name: {what: round(n / sum(c.values()), 3) for what, n in c.most_common(8)}
        for name, c in waits.items()
    }
    return {
        "concurrent_scaling": round(scaling["scripts_es"], 4),
        "concurrent": {
            "writers": many,
            "scripts_es_1_writer_cmd_per_s": median["scripts_es_1"],
            f"scripts_es_{many}_writers_cmd_per_s": median[f"scripts_es_{many}"],
            "raw_1_writer_tx_per_s": median["raw_1"],
            f"raw_{many}_writers_tx_per_s": median[f"raw_{many}"],
            "raw_scaling": round(scaling["raw"], 4),
            "scaling_vs_raw_scaling": ratio(scaling["scripts_es"], scaling["raw"]),
            "seconds_per_run": duration,
            "rounds": rounds,
            "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "server_wait_shares": shares,
        },
    }

"""vs_eventsourcing_*: scripts-es beside the eventsourcing library's stock PostgreSQL application.

Same server, same run, same payload size. The library side is an `Application` configured only
with its connection info (`PERSISTENCE_MODULE=eventsourcing.postgres`, everything else its
defaults) on a database of its own, and an `Aggregate` with one `@event` method that sets a
content string; a save is `app.save(document)` of one new event. Ours is `TenantSession.handle`
of `UpdateScriptContent` (bench/writers.CommandWriter). Rounds of the two alternate so load from
elsewhere hits both alike; the figures are medians of per-round ratios.

The library's configuration goes in as its explicit `env` mapping (which it lays over
os.environ), so nothing process-wide is changed and nothing needs restoring.
"""

from __future__ import annotations

import multiprocessing
import random
import statistics
import time
import uuid
from collections.abc import Callable
from importlib.metadata import version
from typing import Any, ClassVar
from uuid import UUID

import psycopg
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from psycopg.conninfo import conninfo_to_dict

from bench.concurrent import _get, serve
from bench.cpu import CpuMeter
from bench.server import dedicated_database
from bench.timing import ratio, summary_ms, timed_round
from bench.writers import FILLER, CommandWriter, event_shape
from scripts_es import ScriptsModule
from scripts_es.domain import Script
from scripts_es.settings import Settings

SNAPSHOT_EVERY = Settings.snapshot_every  # ours by default; the library's interval is set to it
LOAD_LENGTHS = (2_000, 2_019)  # on a snapshot (both sides snapshot at multiples of 20), past one


class Document(Aggregate):
    """The library's aggregate: one content string, changed by one event."""

    @event("Created")
    def __init__(self, content: str) -> None:
        self.content = content

    @event("ContentUpdated")
    def update_content(self, content: str) -> None:
        self.content = content


class PeerApp(Application[UUID]):
    """The library's stock application (no snapshots, no aggregate cache: its defaults)."""


class SnapshottingPeerApp(Application[UUID]):
    """The same, with the library's snapshotting every SNAPSHOT_EVERY events of a Document."""

    snapshotting_intervals: ClassVar[dict[type[Any], int]] = {Document: SNAPSHOT_EVERY}


def library_env(dsn: str) -> dict[str, str]:
    """The library's configuration for the database `dsn` names (connection info only)."""
    info = conninfo_to_dict(dsn)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(info.get("dbname", "")),
        "POSTGRES_HOST": str(info.get("host", "localhost")),
        "POSTGRES_PORT": str(info.get("port", "5432")),
        "POSTGRES_USER": str(info.get("user", "")),
        "POSTGRES_PASSWORD": str(info.get("password", "")),
    }


def content(n: int, pad: int) -> str:
    """CommandWriter's content for revision `n`, padded so the stored payloads match in size."""
    return f"# revision {n}\n{FILLER}" + "#" * pad


class LibraryWriter:
    """`document.update_content(...)` then `app.save(document)`: one new event per save."""

    def __init__(self, app: Application[UUID], pad: int) -> None:
        self.app, self.pad = app, pad
        self.document = Document(content="x")
        app.save(self.document)
        self.n = 0

    def step(self) -> None:
        self.n += 1
        self.document.update_content(content(self.n, self.pad))
        self.app.save(self.document)


def stored_bytes(library_dsn: str, table: str, document_id: UUID) -> int:
    """Average stored payload bytes of one document's update events in the library's table."""
    with psycopg.connect(library_dsn) as conn:
        row = conn.execute(
            f"SELECT avg(octet_length(state))::int FROM public.{table} "  # noqa: S608
            "WHERE originator_id = %s AND originator_version > 1",
            (document_id,),
        ).fetchone()
    assert row is not None and row[0] is not None, "the library wrote no update events"
    return int(row[0])


def calibrate(module: ScriptsModule, dsn: str, library_dsn: str) -> dict[str, int]:
    """Our average payload bytes, and the padding that makes the library's the same size."""
    ours = CommandWriter(module, uuid.uuid4(), uuid.uuid4())
    app = PeerApp(env=library_env(library_dsn))
    try:
        theirs = LibraryWriter(app, 0)
        for _ in range(5):
            ours.step()
            theirs.step()
        _, our_bytes = event_shape(dsn, ours.script_id)
        unpadded = stored_bytes(library_dsn, "peerapp_events", theirs.document.id)
    finally:
        app.close()
    return {"payload_bytes": our_bytes, "pad": max(0, our_bytes - unpadded)}


def one_writer(
    module: ScriptsModule,
    dsn: str,
    library_dsn: str,
    pad: int,
    *,
    rounds: int,
    ops: int,
    warmup: int,
) -> dict[str, Any]:
    """Commands per second of one writer ÷ the library's saves per second, round by round."""
    app = PeerApp(env=library_env(library_dsn))
    cpu = {"scripts_es": CpuMeter(dsn), "eventsourcing": CpuMeter(library_dsn)}
    try:
        writers: dict[str, Any] = {
            "scripts_es": CommandWriter(module, uuid.uuid4(), uuid.uuid4()),
            "eventsourcing": LibraryWriter(app, pad),
        }
        for writer in writers.values():
            for _ in range(warmup):
                writer.step()
        rates: dict[str, list[float]] = {name: [] for name in writers}
        names = list(writers)
        for r in range(rounds):
            for name in names[r % 2 :] + names[: r % 2]:
                rates[name].append(timed_round(writers[name].step, ops, cpu[name]))
        theirs = stored_bytes(library_dsn, "peerapp_events", writers["eventsourcing"].document.id)
    finally:
        app.close()
        for meter in cpu.values():
            meter.close()
    paired = statistics.median(
        a / b for a, b in zip(rates["scripts_es"], rates["eventsourcing"], strict=True)
    )
    return {
        "vs_eventsourcing_1_writer": round(paired, 4),
        "scripts_es_cmd_per_s": round(statistics.median(rates["scripts_es"]), 1),
        "eventsourcing_saves_per_s": round(statistics.median(rates["eventsourcing"]), 1),
        "eventsourcing_payload_bytes": theirs,
        "rounds": rounds,
        "ops_per_round": ops,
        "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
        "cpu": {name: meter.per_op_ms(rounds * ops) for name, meter in cpu.items()},
    }


def _worker(
    dsn: str, library_dsn: str, tenant_id: UUID, pad: int, warmup: int, orders: Any, results: Any
) -> None:
    module = ScriptsModule.open(dsn, install=False, pool_size=2)
    # The parent created the tables; four concurrent CREATE OR REPLACE FUNCTION would collide
    # ("tuple concurrently updated"), so the workers skip the library's DDL, as we skip ours.
    app = PeerApp(env={**library_env(library_dsn), "CREATE_TABLE": "no"})
    try:
        writers: dict[str, Any] = {
            "scripts_es": CommandWriter(module, tenant_id, uuid.uuid4()),
            "eventsourcing": LibraryWriter(app, pad),
        }
        serve(writers, warmup, orders, results)
    finally:
        app.close()
        module.close()


def many_writers(
    dsn: str,
    library_dsn: str,
    pad: int,
    *,
    rounds: int,
    duration: float,
    warmup: int,
    many: int = 4,
) -> dict[str, Any]:
    """`many` writer processes per side on distinct aggregates; the sides alternate."""
    ctx = multiprocessing.get_context("spawn")
    results = ctx.Queue()
    queues = [ctx.Queue() for _ in range(many)]
    tenant_id = uuid.uuid4()
    processes = [
        ctx.Process(
            target=_worker,
            args=(dsn, library_dsn, tenant_id, pad, warmup, q, results),
            daemon=True,
        )
        for q in queues
    ]
    for process in processes:
        process.start()
    rates: dict[str, list[float]] = {"scripts_es": [], "eventsourcing": []}
    names = list(rates)
    try:
        for _ in processes:
            assert _get(results, processes) == "ready"
        for r in range(rounds):
            for kind in names[r % 2 :] + names[: r % 2]:
                start_at = time.time() + 0.2
                for q in queues:
                    q.put((kind, start_at, duration))
                outcomes = [_get(results, processes) for _ in range(many)]
                rates[kind].append(sum(done / elapsed for done, elapsed in outcomes))
    finally:
        for q in queues:
            q.put(None)
        for process in processes:
            process.join(timeout=30)
    paired = statistics.median(
        a / b for a, b in zip(rates["scripts_es"], rates["eventsourcing"], strict=True)
    )
    return {
        f"vs_eventsourcing_{many}_writers": round(paired, 4),
        "writers": many,
        f"scripts_es_{many}_writers_cmd_per_s": round(statistics.median(rates["scripts_es"]), 1),
        f"eventsourcing_{many}_writers_saves_per_s": round(
            statistics.median(rates["eventsourcing"]), 1
        ),
        "seconds_per_run": duration,
        "rounds": rounds,
        "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
    }


def _our_stream(module: ScriptsModule, length: int, batch: int = 100) -> tuple[Any, UUID]:
    """(a session, a script whose stream holds `length` events of CommandWriter's content)."""
    user_id = uuid.uuid4()
    t = module.tenant(uuid.uuid4(), user_id)
    script = t.scripts.create(
        Script.create(
            tenant_id=t.session.tenant_id,
            created_by=user_id,
            name=f"peer stream of {length}",
            content="x",
            type="embedded",
            metadata={},
        )
    )
    while script.version < length:
        for _ in range(min(batch, length - script.version)):
            script = script.update_content(content(script.version, 0), user_id)
        script = t.scripts.update(script)
    return t, script.id


def _their_stream(app: Application[UUID], length: int, pad: int, batch: int = 100) -> UUID:
    """A Document of `length` events saved `batch` at a time (snapshots, if on, every 20)."""
    document = Document(content="x")
    while document.version < length:
        for _ in range(min(batch, length - document.version)):
            document.update_content(content(document.version, pad))
        app.save(document)
    return document.id


def load(dsn: str, library_dsn: str, pad: int, *, reps: int, seed: int = 5) -> dict[str, Any]:
    """Loads of long streams: ours (cache off, snapshots every 20) vs the library's two setups."""
    env = library_env(library_dsn)
    plain, snapshotting = PeerApp(env=env), SnapshottingPeerApp(env=env)
    module = ScriptsModule.open(dsn, install=False, cache_size=0)
    try:
        loaders: dict[str, Callable[[], Any]] = {}
        for length in LOAD_LENGTHS:
            t, script_id = _our_stream(module, length)
            plain_id = _their_stream(plain, length, pad)
            snap_id = _their_stream(snapshotting, length, pad)
            loaders[f"scripts_es_{length}"] = lambda t=t, i=script_id: t.scripts.find_by_id(i)
            loaders[f"eventsourcing_{length}"] = lambda i=plain_id: plain.repository.get(i)
            loaders[f"eventsourcing_snapshots_{length}"] = lambda i=snap_id: (
                snapshotting.repository.get(i)
            )
        for loader in loaders.values():
            for _ in range(5):
                loader()
        rng = random.Random(seed)
        samples: dict[str, list[float]] = {name: [] for name in loaders}
        order = list(loaders)
        for _ in range(reps):
            rng.shuffle(order)
            for name in order:
                t0 = time.perf_counter()
                loaded = loaders[name]()
                samples[name].append(time.perf_counter() - t0)
                assert loaded.version == int(name.rsplit("_", 1)[1])
    finally:
        plain.close()
        snapshotting.close()
        module.close()
    stats = {name: summary_ms(values) for name, values in samples.items()}

    def versus(theirs: str, length: int, key: str = "median_ms") -> float:
        return ratio(stats[f"{theirs}_{length}"][key], stats[f"scripts_es_{length}"][key])

    first = LOAD_LENGTHS[0]
    return {
        "vs_eventsourcing_load_2000": versus("eventsourcing", first),
        "vs_eventsourcing_snapshots_load_2000": versus("eventsourcing_snapshots", first),
        "load": {
            "snapshot_every": SNAPSHOT_EVERY,
            "library_snapshotting_interval": SNAPSHOT_EVERY,
            "cache_size": 0,
            "latency": stats,
            "ratios": {
                f"{theirs}_{length}_{key}": versus(theirs, length, key)
                for theirs in ("eventsourcing", "eventsourcing_snapshots")
                for length in LOAD_LENGTHS
                for key in ("median_ms", "p95_ms")
            },
            "reps": reps,
        },
    }


def measure(
    module: ScriptsModule,
    dsn: str,
    *,
    rounds: int,
    ops: int,
    warmup: int,
    conc_rounds: int,
    conc_seconds: float,
    load_reps: int,
) -> dict[str, Any]:
    """All three comparisons; the library's tables go in a database of their own."""
    with dedicated_database(dsn) as library_dsn:
        shape = calibrate(module, dsn, library_dsn)
        pad = shape["pad"]
        one = one_writer(module, dsn, library_dsn, pad, rounds=rounds, ops=ops, warmup=warmup)
        many = many_writers(
            dsn, library_dsn, pad, rounds=conc_rounds, duration=conc_seconds, warmup=warmup
        )
        loads = load(dsn, library_dsn, pad, reps=load_reps)
    headline = ("vs_eventsourcing_load_2000", "vs_eventsourcing_snapshots_load_2000")
    return {
        "vs_eventsourcing_1_writer": one.pop("vs_eventsourcing_1_writer"),
        "vs_eventsourcing_4_writers": many.pop("vs_eventsourcing_4_writers"),
        **{name: loads.pop(name) for name in headline},
        "peers": {
            "library": "eventsourcing " + version("eventsourcing") + " (eventsourcing.postgres)",
            **shape,
            "one_writer": one,
            "many_writers": many,
            **loads,
        },
    }

"""load_flatness: find_by_id of a script with 10,000 events ÷ one with 10 (snapshots on).

The long streams are built in batches through the repository (`update` with hundreds of pending
events at once), ending exactly on a batch boundary for 10,000 (its snapshot is the newest event)
and past it for the non-aligned lengths, so their loads fold a tail of events after the snapshot.
"""

from __future__ import annotations

import random
import time
import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from bench.timing import ratio, summary_ms
from scripts_es import ScriptsModule, TenantSession
from scripts_es.domain import Script

LENGTHS = (10, 10_000, 10_013, 10_019)


def build_stream(t: TenantSession, user_id: UUID, length: int, batch: int) -> UUID:
    """A script whose stream holds exactly `length` events, written `batch` changes at a time."""
    script = t.scripts.create(
        Script.create(
            tenant_id=t.session.tenant_id,
            created_by=user_id,
            name=f"stream of {length}",
            content="v1",
            type="embedded",
            metadata={},
        )
    )
    version = 1
    while version < length:
        n = min(batch - version % batch, length - version)
        for _ in range(n):
            version += 1
            script = script.update_content(f"# version {version}\nprint({version})\n", user_id)
        script = t.scripts.update(script)
    assert script.version == length
    return script.id


@dataclass
class Streams:
    """The scripts to load, by stream length, and the session that wrote them."""

    t: TenantSession
    ids: dict[int, UUID]
    build_seconds: float


def build(module: ScriptsModule, batch: int = 500) -> Streams:
    user_id = uuid.uuid4()
    t = module.tenant(uuid.uuid4(), user_id)
    started = time.perf_counter()
    ids = {length: build_stream(t, user_id, length, batch) for length in LENGTHS}
    return Streams(t, ids, time.perf_counter() - started)


def measure(streams: Streams, *, reps: int, seed: int = 7) -> dict[str, Any]:
    """find_by_id of every stream `reps` times, lengths in random order each round."""
    rng = random.Random(seed)
    t, ids = streams.t, streams.ids
    for script_id in ids.values():
        for _ in range(20):
            t.scripts.find_by_id(script_id)
    samples: dict[int, list[float]] = {length: [] for length in LENGTHS}
    order = list(LENGTHS)
    for _ in range(reps):
        rng.shuffle(order)
        for length in order:
            t0 = time.perf_counter()
            loaded = t.scripts.find_by_id(ids[length])
            samples[length].append(time.perf_counter() - t0)
            assert loaded.version == length
    stats = {str(length): summary_ms(values) for length, values in samples.items()}

    def versus(length: int, key: str = "median_ms") -> float:
        return ratio(stats[str(length)][key], stats["10"][key])

    return {
        "flatness": versus(10_000),
        "latency_by_events": stats,
        "ratio_p95_10000": versus(10_000, "p95_ms"),
        "ratio_10013": versus(10_013),
        "ratio_10019": versus(10_019),
        "ratio_p95_10013": versus(10_013, "p95_ms"),
        "reps": reps,
    }

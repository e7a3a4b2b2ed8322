"""find_overhead_ratio and find_scaling: `tenant.scripts.find(params)` against hand-written SQL.

The hand-written side is what an expert would write for the same query: one SELECT with the same
WHERE / ORDER BY / LIMIT, as scripts_es_app with the tenant set, tenant setting and SELECT sent
together (one round trip), rows as tuples. Both sides run the same mix of filters and sorts on
random tenants, interleaved; every answer is checked to be the same rows in the same order.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads

from bench.seed import NOW, TAGS, TYPES, DataSet
from bench.timing import percentile, ratio, summary_ms
from projections.finders import like_pattern
from scripts_es import ScriptsModule
from scripts_es.queries import ScriptFindParams

SET_TENANT = "SELECT set_config('app.tenant_id', %s, true)"
SELECT = (
    "SELECT id, tenant_id, name, description, content, type, is_enabled, metadata, tags, "
    "version, created_at, updated_at, created_by, updated_by FROM scripts_es.scripts "
    "WHERE tenant_id = %s "
)
RECENT = "ORDER BY updated_at DESC, id DESC LIMIT 50"


@dataclass(frozen=True)
class Kind:
    name: str
    params: Callable[[random.Random, DataSet], dict[str, Any]]
    sql: str
    args: Callable[[dict[str, Any]], list[Any]]


def _none(p: dict[str, Any]) -> list[Any]:
    return []


KINDS = (
    Kind("recent", lambda r, d: {}, SELECT + RECENT, _none),
    Kind(
        "type",
        lambda r, d: {"type": r.choice(TYPES)},
        SELECT + "AND type = %s " + RECENT,
        lambda p: [p["type"]],
    ),
    Kind(
        "disabled",
        lambda r, d: {"enabled": False},
        SELECT + "AND is_enabled = %s " + RECENT,
        lambda p: [False],
    ),
    Kind(
        "tag",
        lambda r, d: {"tags_any": (r.choice(TAGS),)},
        SELECT + "AND tags && %s::text[] " + RECENT,
        lambda p: [list(p["tags_any"])],
    ),
    Kind(
        "search",
        lambda r, d: {"search": r.choice(d.searches)},
        SELECT + "AND (lower(name) LIKE lower(%s) OR lower(description) LIKE lower(%s)) " + RECENT,
        lambda p: [like_pattern(p["search"])] * 2,
    ),
    Kind(
        "updated_after",
        lambda r, d: {"updated_after": NOW - timedelta(days=r.choice((7, 30, 90)))},
        SELECT + "AND updated_at > %s " + RECENT,
        lambda p: [p["updated_after"]],
    ),
    Kind(
        "by_name",
        lambda r, d: {"sort": (("name", "asc"),)},
        SELECT + "ORDER BY name ASC, id ASC LIMIT 50",
        _none,
    ),
    Kind(
        "http_by_created",
        lambda r, d: {"type": "http", "sort": (("created_at", "asc"),)},
        SELECT + "AND type = %s ORDER BY created_at ASC, id ASC LIMIT 50",
        lambda p: ["http"],
    ),
    Kind(
        "combined",
        lambda r, d: {"type": "cron", "enabled": True, "tags_any": (r.choice(TAGS),)},
        SELECT + "AND type = %s AND is_enabled = %s AND tags && %s::text[] " + RECENT,
        lambda p: ["cron", True, list(p["tags_any"])],
    ),
    Kind(
        "version_page3",
        lambda r, d: {"sort": (("version", "desc"),), "offset": 100},
        SELECT + "ORDER BY version DESC, id DESC LIMIT 50 OFFSET 100",
        _none,
    ),
)


def hand_connection(dsn: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=True)
    set_json_loads(orjson.loads, conn)
    conn.execute("SET ROLE scripts_es_app")
    return conn


def hand(conn: psycopg.Connection[Any], tenant: Any, kind: Kind, p: dict[str, Any]) -> list[Any]:
    """One round trip: the tenant setting and the SELECT in one implicit transaction."""
    with conn.pipeline():
        conn.execute(SET_TENANT, (str(tenant),), prepare=True)
        cur = conn.execute(kind.sql, [tenant, *kind.args(p)], prepare=True)
    return cur.fetchall()


@dataclass
class Target:
    """One data set to query: its module, its database, its tenants, and what was measured."""

    module: ScriptsModule
    dsn: str
    data: DataSet
    found: dict[str, list[float]] = field(default_factory=dict)
    direct: dict[str, list[float]] = field(default_factory=dict)
    mismatches: int = 0
    rows: int = 0
    cpu: dict[str, float] = field(default_factory=lambda: {"find": 0.0, "hand": 0.0})


def _sample(target: Target, conn: Any, rng: random.Random, i: int) -> None:
    """One find and the same query hand-written, in alternating order; recorded if i >= 0."""
    kind = KINDS[i % len(KINDS)]
    tenant = rng.choice(target.data.tenants)
    p = kind.params(rng, target.data)
    params = ScriptFindParams(**p)
    session = target.module.tenant(tenant, target.data.user_id).scripts
    for side in ("find", "hand") if i % 2 else ("hand", "find"):
        c0, t0 = time.process_time(), time.perf_counter()
        if side == "find":
            scripts = session.find(params)
        else:
            tuples = hand(conn, tenant, kind, p)
        elapsed = time.perf_counter() - t0
        if i >= 0:
            target.cpu[side] += time.process_time() - c0
            samples = target.found if side == "find" else target.direct
            samples.setdefault(kind.name, []).append(elapsed)
    target.mismatches += [s.id for s in scripts] != [row[0] for row in tuples]
    target.rows += len(tuples)


def measure(targets: dict[str, Target], reps: int, seed: int) -> dict[str, dict[str, Any]]:
    """`reps` finds and as many hand-written queries on every target, interleaved."""
    rng = random.Random(seed)
    conns = {name: hand_connection(t.dsn) for name, t in targets.items()}
    try:
        for i in range(-len(KINDS) * 5, reps):  # the negative ones warm up (and prepare)
            for name, target in targets.items():
                _sample(target, conns[name], rng, i)
    finally:
        for conn in conns.values():
            conn.close()
    return {name: _stats(t, reps) for name, t in targets.items()}


def _stats(t: Target, reps: int) -> dict[str, Any]:
    every_find = [x for v in t.found.values() for x in v]
    every_hand = [x for v in t.direct.values() for x in v]
    return {
        "find_p95_ms": round(percentile(every_find, 95) * 1e3, 4),
        "hand_p95_ms": round(percentile(every_hand, 95) * 1e3, 4),
        "find": summary_ms(every_find),
        "hand": summary_ms(every_hand),
        "p95_ratio_by_kind": {
            k: ratio(percentile(t.found[k], 95), percentile(t.direct[k], 95)) for k in t.found
        },
        "find_p95_ms_by_kind": {k: round(percentile(v, 95) * 1e3, 3) for k, v in t.found.items()},
        "hand_p95_ms_by_kind": {k: round(percentile(v, 95) * 1e3, 3) for k, v in t.direct.items()},
        "mean_rows": round(t.rows / (reps + len(KINDS) * 5), 1),
        "client_cpu_ms_per_query": {k: round(v / reps * 1e3, 4) for k, v in t.cpu.items()},
        "row_mismatches": t.mismatches,
    }

"""The find/rebuild data set: scripts made with the domain, their events COPYed into the store.

Each script is `Script.create(...)` plus, for some, content updates, a disable, a details change
or a delete, at spread-out times; the pending events go through the module's own mapper into one
COPY. HTTP scripts get their route rows as the write path would. The read model is then built by
`rebuild_projections()` (measured in rebuild.py), so it is consistent by construction.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import psycopg

from scripts_es.domain import Script
from scripts_es.store.mapper import PydanticMapper

WORDS = (
    "alpha", "billing", "cleanup", "daily", "export", "feed", "gateway", "hourly", "invoice",
    "journal", "kafka", "ledger", "metrics", "nightly", "orders", "payments", "queue", "report",
    "sync", "tickets", "users", "vault", "webhook", "xml", "yearly", "zendesk",
)  # fmt: skip
TAGS = tuple(f"{w}-{k}" for w in ("team", "prod", "env", "owner", "area") for k in range(6))
TYPES = ("cron", "http", "one_off", "embedded")
CRONS = ("*/5 * * * *", "0 3 * * *", "15 * * * 1-5", "0 0 1 * *")
EVENT_COLUMNS = "tenant_id, originator_id, originator_version, topic, state, occurred_at"
NOW = datetime(2030, 6, 1, tzinfo=UTC)  # a fixed "now": every run makes the same data


@dataclass
class DataSet:
    tenants: list[UUID]
    user_id: UUID
    scripts: int = 0
    events: int = 0
    seconds: float = 0.0
    searches: Sequence[str] = field(default_factory=lambda: WORDS[:6])


def make_script(rng: random.Random, tenant_id: UUID, user_id: UUID, index: int) -> Script:
    """One script at its final state, with every event of its history pending."""
    kind = rng.choices(TYPES, weights=(4, 2, 2, 2))[0]
    metadata: dict[str, Any] = {}
    if kind == "cron":
        metadata = {"cron_expression": rng.choice(CRONS)}
    elif kind == "http":
        metadata = {"path": f"/hooks/h{index}", "method": rng.choice(("GET", "POST"))}
    at = NOW - timedelta(days=rng.uniform(2, 365))
    words = rng.sample(WORDS, 4)
    script = Script.create(
        tenant_id=tenant_id,
        created_by=user_id,
        name=f"{words[0]} {words[1]} {index}",
        description=f"runs the {words[2]} {words[3]} job",
        content=f"# script {index}\n" + "print('step')\n" * rng.randint(2, 30),
        type=kind,
        metadata=metadata,
        tags=rng.sample(TAGS, rng.randint(0, 4)),
        id=UUID(int=rng.getrandbits(128), version=4),
        at=at,
    )
    for _ in range(rng.choices((0, 1, 3), weights=(6, 3, 1))[0]):
        at += timedelta(hours=rng.uniform(1, 200))
        script = script.update_content(f"# edited {at.isoformat()}\nprint(1)\n", user_id, at=at)
    if rng.random() < 0.15:
        script = script.disable(user_id, at=at + timedelta(minutes=5))
    if rng.random() < 0.05:
        tags = rng.sample(TAGS, 2)
        script = script.change_details(by_user=user_id, tags=tags, at=at + timedelta(minutes=9))
    if rng.random() < 0.02:
        script = script.delete(user_id, at=at + timedelta(minutes=13))
    return script


def _rows(
    data: DataSet, rng: random.Random, start: int, per_tenant: int, routes: list[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    mapper = PydanticMapper()
    for index in range(start, start + per_tenant):
        for tenant_id in data.tenants:
            script = make_script(rng, tenant_id, data.user_id, index)
            data.scripts += 1
            meta = script.metadata
            if script.type.value == "http" and not script.is_deleted:
                routes.append((tenant_id, meta.method, meta.path, script.id))  # type: ignore[union-attr]
            for event in script.pending_events:
                stored = mapper.to_stored_event(event)
                data.events += 1
                yield (
                    tenant_id,
                    stored.originator_id,
                    stored.originator_version,
                    stored.topic,
                    stored.state,
                    event.timestamp,
                )


def add_scripts(admin_dsn: str, data: DataSet, start: int, per_tenant: int, seed: int) -> None:
    """COPY the events of `per_tenant` more scripts into every tenant (indexes start..)."""
    rng = random.Random(seed * 1_000_003 + start)
    routes: list[tuple[Any, ...]] = []
    started = time.perf_counter()
    with psycopg.connect(admin_dsn) as conn, conn.cursor() as cur:
        with cur.copy(f"COPY scripts_es.events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in _rows(data, rng, start, per_tenant, routes):
                copy.write_row(row)
        with cur.copy(
            "COPY scripts_es.script_routes (tenant_id, method, path, script_id) FROM STDIN"
        ) as copy:
            for row in routes:
                copy.write_row(row)
        conn.execute("ANALYZE scripts_es.events")
    data.seconds += time.perf_counter() - started


def new_dataset(tenants: int) -> DataSet:
    return DataSet(tenants=[uuid4() for _ in range(tenants)], user_id=uuid4())

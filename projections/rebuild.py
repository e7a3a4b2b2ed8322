"""Rebuild and verify the read model from the event store.

Phase 1 (one REPEATABLE READ transaction): fold every stream from its events (or from the
snapshot at its horizon, when its first events were pruned) and COPY the rows into scratch tables,
remembering the snapshot it read. Phase 2 (READ COMMITTED): lock the live tables against writers
(readers go on), apply the events that committed after that snapshot and drop rows whose events
were pruned meanwhile, then either swap the rows in (rebuild) or diff them (verify). A crash in
either phase rolls it back; running again converges.

A full rebuild by a login that may act as the tables' owner loads successor tables instead
(no indexes until the load is done) and swaps them in by rename: its phase 2 holds the live
tables exclusively against readers too, for the catch-up and the swap only.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import StoredEvent
from psycopg import sql

from projections import schedules
from projections.decode import stored_event
from projections.rows import Rows
from projections.runner import project_streams
from projections.streams import fold_stream
from projections.tables import LIVE, SCRATCH, SUCCESSORS, Tables
from projections.writer import ColumnTypes, copy
from scripts_es.domain import validation
from scripts_es.domain.events import DomainEvent
from scripts_es.reports import RebuildReport, TableDrift, VerifyReport
from scripts_es.store.database import MAINT_ROLE, Database
from scripts_es.store.event_store import EventStore
from scripts_es.store.sql import load_templates, one

QUERIES = load_templates("projections", "rebuild.sql")
Progress = Callable[[int, int], None]
FLUSH_ROWS = 5_000


def _ids(tables: Tables = SCRATCH) -> dict[str, sql.Composable]:
    live = {f"live_{k}": v for k, v in LIVE.ids().items()}
    names = {
        f"live_{k}_name": sql.Identifier(v) for k, v in zip(LIVE.ids(), LIVE.all(), strict=True)
    }
    return {**tables.ids(), **live, **names}


def _q(name: str, tables: Tables = SCRATCH, **extra: sql.Composable) -> sql.Composed:
    return QUERIES[name].format(**_ids(tables), **extra)


@contextmanager
def _as(conn: Any, role: str | None) -> Iterator[None]:
    """Within the transaction, act as `role` (the tables' owner, for their DDL), then go back
    to the maintenance role; without a role, stay as it is."""
    if role is None:
        yield
        return
    conn.execute(_q("set_role", role=sql.Identifier(role)))
    yield
    conn.execute(_q("set_role", role=sql.Identifier(MAINT_ROLE)))


def swap_owner(conn: Any) -> str | None:
    """The live tables' owner when this login may act as it (a full rebuild then swaps whole
    tables in), else None (it re-inserts the rows, as a per-tenant rebuild does)."""
    owner, allowed = one(conn.execute(QUERIES["owner"], {"live": list(LIVE.all())}))
    conn.rollback()
    return str(owner) if allowed else None


def _successor_ddl(conn: Any, tables: Tables, phase: str) -> list[tuple[str, str]]:
    """Run the catalog's statements for `phase`; returns (temporary, live) index names."""
    renames = []
    params = {"live": list(LIVE.all()), "scratch": list(tables.all()), "phase": phase}
    for statement, temporary, name in conn.execute(QUERIES["successor_ddl"], params).fetchall():
        conn.execute(statement)
        if temporary is not None:
            renames.append((temporary, name))
    return renames


def build_scratch(
    conn: Any,
    store: EventStore,
    tenant_id: UUID | None,
    progress: Progress | None,
    owner: str | None = None,
) -> tuple[str, dict[str, int], Tables, list[tuple[str, str]]]:
    """Phase 1: scratch tables holding the read model as of one snapshot; returns it, the
    counts, the tables (with `owner`: successors of the live tables, indexed) and the renames
    of their indexes."""
    tables = SCRATCH if owner is None else SUCCESSORS
    conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    counts = {"events": 0, "streams": 0}
    params = {"tenant_id": tenant_id}
    with conn.transaction():
        snapshot = one(conn.execute(QUERIES["snapshot"]))[0]
        if owner is None:
            conn.execute(_q("create_scratch"))
        else:
            with _as(conn, owner):
                conn.execute(_q("create_successors", tables))
                _successor_ddl(conn, tables, "before")
        types: ColumnTypes = {}
        for table, column, oid in conn.execute(
            QUERIES["column_types"], {"tables": list(tables.all())}
        ):
            types.setdefault(table, {})[column] = oid
        total = one(conn.execute(QUERIES["count_events"], params))[0]
        seeds = {
            (t, i): store.mapper.from_snapshot(StoredEvent(i, v, topic, bytes(state)))
            for t, i, v, topic, state in conn.execute(QUERIES["seeds"], params)
        }
        rows = Rows()
        for seed, events in _streams(conn, store, seeds, params):
            state = fold_stream(seed, events[1:] if seed is not None else events)
            rows.add(state, events)
            counts["events"] += len(events)
            counts["streams"] += 1
            if len(rows) >= FLUSH_ROWS:
                copy(conn, rows, tables, types)
                rows = Rows()
                if progress:
                    progress(counts["events"], total)
        copy(conn, rows, tables, types)
        if progress:
            progress(counts["events"], total)
        if owner is None:
            renames = _successor_ddl(conn, tables, "keys")
        else:
            with _as(conn, owner):
                renames = _successor_ddl(conn, tables, "after")
                conn.execute(_q("analyze_scratch", tables))
    conn.isolation_level = None
    return snapshot, counts, tables, renames


def _streams(
    conn: Any, store: EventStore, seeds: dict[tuple[UUID, UUID], Any], params: dict[str, Any]
) -> Iterator[tuple[Any, list[DomainEvent]]]:
    """(seed, events) per stream, streaming events through a server-side cursor."""
    current: tuple[UUID, UUID] | None = None
    events: list[DomainEvent] = []
    with conn.cursor(name="scripts_es_rebuild") as cursor:
        cursor.itersize = 2_000
        cursor.execute(QUERIES["all_events"], params)
        for tenant_id, stream_id, version, topic, state in cursor:
            key = (tenant_id, stream_id)
            if key != current:
                if current is not None:
                    yield seeds.get(current), events
                current, events = key, []
            events.append(stored_event(store.mapper, stream_id, version, topic, bytes(state)))
    if current is not None:
        yield seeds.get(current), events


def catch_up(
    conn: Any,
    store: EventStore,
    snapshot: str,
    tenant_id: UUID | None,
    tables: Tables = SCRATCH,
    lock: str = "lock_live",
) -> None:
    """Phase 2 start: under the lock, bring the scratch tables up to now.

    The schedules are held too, before the late events are read: a write that changes a
    schedule commits before (its events are read here) or waits until the rebuild committed
    (its row is written after the rebuilt ones), never in between to be cleared unseen.
    Writers take the read-model tables before the schedules as well (writes.sql's order).
    """
    conn.execute(_q(lock))
    schedules.hold(conn)
    late = conn.execute(
        QUERIES["late_events"], {"snapshot": snapshot, "tenant_id": tenant_id}
    ).fetchall()
    if late:
        project_streams(conn, store, late, tables)
    conn.execute(_q("drop_pruned", tables))


def rebuild(
    db: Database,
    store: EventStore,
    *,
    tenant_id: UUID | None = None,
    progress: Progress | None = None,
) -> RebuildReport:
    """Rebuild the read model (of one tenant, or all) and swap it in atomically."""
    validation.tenant_filter(tenant_id)
    started = time.perf_counter()
    with db.maintenance_connection() as conn:
        owner = swap_owner(conn) if tenant_id is None else None
        snapshot, counts, tables, renames = build_scratch(conn, store, tenant_id, progress, owner)
        for attempt in range(PHASE_TWO_ATTEMPTS):
            try:
                with conn.transaction():
                    sizes = _swap_in(conn, store, snapshot, tenant_id, tables, owner, renames)
                break
            except psycopg.errors.DeadlockDetected:
                # The swap's exclusive lock met a reader holding the tables in another
                # order; PostgreSQL chose the rebuild. Phase 1's tables are still there.
                if attempt + 1 == PHASE_TWO_ATTEMPTS:
                    raise
    return RebuildReport(
        tenant_id=None if tenant_id is None else str(tenant_id),
        events=counts["events"],
        streams=counts["streams"],
        scripts=sizes["scripts"],
        script_versions=sizes["script_versions"],
        executions=sizes["executions"],
        seconds=round(time.perf_counter() - started, 3),
    )


PHASE_TWO_ATTEMPTS = 3  # a phase 2 that lost a deadlock is run again, this often at most


def _swap_in(
    conn: Any,
    store: EventStore,
    snapshot: str,
    tenant_id: UUID | None,
    tables: Tables,
    owner: str | None,
    renames: list[tuple[str, str]],
) -> dict[str, int]:
    """Phase 2 of a rebuild, in the caller's transaction: catch up, then the rebuilt rows
    replace the live ones (re-inserted, or whole tables swapped in by rename when `owner`)."""
    params = {"tenant_id": tenant_id}
    if owner is None:
        catch_up(conn, store, snapshot, tenant_id)
        sizes = _sizes(conn, tables)
        conn.execute(_q("clear_live_executions"), params)
        conn.execute(_q("clear_live_scripts"), params)
        conn.execute(_q("fill_live"))
        conn.execute(_q("drop_scratch"))
    else:
        catch_up(conn, store, snapshot, tenant_id, tables, "lock_live_exclusive")
        sizes = _sizes(conn, tables)
        with _as(conn, owner):
            conn.execute(_q("drop_live"))
            conn.execute(_q("rename_successors", tables))
            for temporary, name in renames:
                conn.execute(
                    _q(
                        "rename_index",
                        temporary=sql.Identifier("scripts_es", temporary),
                        index=sql.Identifier(name),
                    )
                )
    schedules.replace(conn, LIVE, tenant_id)
    return sizes


def _sizes(conn: Any, tables: Tables) -> dict[str, int]:
    return {
        name: one(conn.execute(sql.SQL("SELECT count(*) FROM {}").format(table)))[0]
        for name, table in tables.ids().items()
    }


def verify(
    db: Database,
    store: EventStore,
    *,
    tenant_id: UUID | None = None,
    progress: Progress | None = None,
) -> VerifyReport:
    """Rebuild into scratch tables and diff them against the live ones (nothing is changed)."""
    validation.tenant_filter(tenant_id)
    drifts: list[TableDrift] = []
    with db.maintenance_connection() as conn:
        snapshot, _, _, _ = build_scratch(conn, store, tenant_id, progress)
        with conn.transaction():
            catch_up(conn, store, snapshot, tenant_id)
            params = {"tenant_id": tenant_id}
            for name, scratch, live in zip(
                LIVE.all(), SCRATCH.ids().values(), LIVE.ids().values(), strict=True
            ):
                missing = one(conn.execute(QUERIES["diff"].format(a=scratch, b=live), params))[0]
                extra = one(conn.execute(QUERIES["diff"].format(a=live, b=scratch), params))[0]
                samples = []
                if missing or extra:
                    for a, b, side in ((scratch, live, "missing"), (live, scratch, "extra")):
                        for (row,) in conn.execute(QUERIES["diff_sample"].format(a=a, b=b), params):
                            samples.append({"side": side, "row": row})
                drifts.append(TableDrift(name, int(missing), int(extra), samples))
            drifts.append(schedules.drift(conn, SCRATCH, tenant_id))
            conn.execute(_q("drop_scratch"))
    return VerifyReport(ok=all(d.missing == 0 and d.extra == 0 for d in drifts), tables=drifts)

"""Schedules in rebuild and verify: every enabled cron script's next slot, recomputed.

`scripts_es.script_schedules` is written by the commands themselves (a script's change starts
or ends its schedule, a fired slot moves it on). Part of it is the scheduler's memory rather
than a fold of events: since when the schedule applies (`anchor`) and the last slot fired
(executions, which record their slots, may have been pruned). Rebuild keeps that memory and
recomputes the rest from the rebuilt scripts and executions: the next slot after the later
of the anchor and the last slot fired. A script with no schedule row yet (a database upgraded
from 0.1.0) is anchored at its last change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from uuid import UUID

from projections.tables import Tables
from scripts_es.domain.schedule import next_fire
from scripts_es.domain.values import CronMetadata
from scripts_es.reports import TableDrift
from scripts_es.store.sql import load_templates

QUERIES = load_templates("projections", "schedules.sql")
Row = tuple[UUID, UUID, datetime, datetime | None, datetime]


def hold(conn: Any) -> None:
    """Hold the live schedules against writes and fires until the transaction ends."""
    conn.execute(QUERIES["lock_schedules"])


BATCH = 5_000


def _expected(conn: Any, tables: Tables, tenant_id: UUID | None) -> Iterator[list[Row]]:
    """The schedule rows the rebuilt `tables` call for, in batches (a server-side cursor, so
    memory stays flat in the number of scripts), holding the live table against fires."""
    hold(conn)
    ids = tables.ids()
    query = QUERIES["schedule_inputs"].format(scripts=ids["scripts"], executions=ids["executions"])
    with conn.cursor(name="scripts_es_schedule_inputs") as cursor:
        cursor.execute(query, {"tenant_id": tenant_id})
        while batch := cursor.fetchmany(BATCH):
            yield [_row(*inputs) for inputs in batch]


def _row(
    tenant: UUID,
    script_id: UUID,
    metadata: Any,
    updated_at: datetime,
    anchor: datetime | None,
    fired: datetime | None,
    recorded: datetime | None,
) -> Row:
    schedule = CronMetadata.model_validate(metadata)
    start = anchor or updated_at
    last = max((slot for slot in (fired, recorded) if slot and slot >= start), default=None)
    return (tenant, script_id, start, last, next_fire(schedule, max(start, last or start)))


def expected(conn: Any, tables: Tables, tenant_id: UUID | None) -> list[Row]:
    """The schedule rows the rebuilt `tables` call for, holding the live table against fires."""
    return [row for batch in _expected(conn, tables, tenant_id) for row in batch]


def replace(conn: Any, tables: Tables, tenant_id: UUID | None) -> int:
    """Rebuild: the live schedules become the ones `tables` call for; how many there are."""
    conn.execute(QUERIES["clear_schedules"], {"tenant_id": tenant_id})
    written = 0
    with conn.cursor() as cursor:  # not COPY: the live table is under row-level security
        for batch in _expected(conn, tables, tenant_id):
            cursor.executemany(QUERIES["insert_schedule"], batch)
            written += len(batch)
    return written


def drift(conn: Any, tables: Tables, tenant_id: UUID | None) -> TableDrift:
    """Verify: the schedules `tables` call for against the live ones."""
    want = set(expected(conn, tables, tenant_id))
    have = set(conn.execute(QUERIES["live_schedules"], {"tenant_id": tenant_id}).fetchall())
    samples = [{"side": "missing", "row": _json(row)} for row in sorted(want - have)[:5]]
    samples += [{"side": "extra", "row": _json(row)} for row in sorted(have - want)[:5]]
    return TableDrift("script_schedules", len(want - have), len(have - want), samples)


def _json(row: Row) -> dict[str, Any]:
    names = ("tenant_id", "script_id", "anchor", "last_fired_for", "next_fire_at")
    return {
        name: None if value is None else str(value) for name, value in zip(names, row, strict=True)
    }

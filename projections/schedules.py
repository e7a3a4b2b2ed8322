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


def expected(conn: Any, tables: Tables, tenant_id: UUID | None) -> list[Row]:
    """The schedule rows the rebuilt `tables` call for, holding the live table against fires."""
    hold(conn)
    ids = tables.ids()
    query = QUERIES["schedule_inputs"].format(scripts=ids["scripts"], executions=ids["executions"])
    rows: list[Row] = []
    for tenant, script_id, metadata, updated_at, anchor, fired, recorded in conn.execute(
        query, {"tenant_id": tenant_id}
    ):
        schedule = CronMetadata.model_validate(metadata)
        start = anchor or updated_at
        last = max((slot for slot in (fired, recorded) if slot and slot >= start), default=None)
        rows.append(
            (tenant, script_id, start, last, next_fire(schedule, max(start, last or start)))
        )
    return rows


def replace(conn: Any, tables: Tables, tenant_id: UUID | None) -> int:
    """Rebuild: the live schedules become the ones `tables` call for; how many there are."""
    rows = expected(conn, tables, tenant_id)
    conn.execute(QUERIES["clear_schedules"], {"tenant_id": tenant_id})
    with conn.cursor() as cursor:
        cursor.executemany(QUERIES["insert_schedule"], rows)
    return len(rows)


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

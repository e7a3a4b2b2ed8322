"""What storing a decision writes, as statements: pure (no I/O), shared by every driver.

An append is the stream's head check under its lock, then one statement composed of the parts
the change needs (writes.sql, and the read model's parts in projections/queries.sql): its
events, maybe a snapshot, route and schedule changes, and (inline projection) its rows.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from uuid import UUID

from psycopg import sql

from projections.rows import execution_rows, script_rows
from projections.writer import rows_part
from scripts_es.domain import Script
from scripts_es.domain.events import (
    ScriptCreated,
    ScriptDeleted,
    ScriptDetailsChanged,
    ScriptMetadataChanged,
)
from scripts_es.domain.schedule import next_fire, schedule_change
from scripts_es.domain.values import CronMetadata, HTTPMetadata, ScriptType
from scripts_es.service.steps import Aggregate, Statement
from scripts_es.store.database import QUERIES
from scripts_es.store.event_store import EventStore
from scripts_es.store.sql import load_templates, render

PARTS = load_templates("scripts_es.service", "writes.sql")
_ROUTE_EVENTS = (ScriptCreated, ScriptMetadataChanged, ScriptDeleted)
_TAG_EVENTS = (ScriptCreated, ScriptDetailsChanged)


@cache
def write_statement(
    parts: tuple[str, ...], rows: tuple[str, ...], later: tuple[str, ...] = ()
) -> str:
    """`WITH` the named `parts` of writes.sql, the read model's `rows` parts, then the `later`
    parts of writes.sql, answering the write's position; rendered once for each combination a
    change can need. The order is the order the statement takes its table locks in: the
    read-model tables before the schedules, as rebuild and verify take them."""
    ctes: list[sql.Composable] = [PARTS[part] for part in parts]
    if rows:
        ctes.append(rows_part(rows))
    ctes += [PARTS[part] for part in later]
    return render(sql.SQL("WITH {} {}").format(sql.SQL(", ").join(ctes), PARTS["position"]))


def head_check(tenant_id: UUID, stream_id: UUID, head: int, *, held: bool = False) -> Statement:
    """Hold the stream until commit (unless the transaction already `held` it) and refuse the
    write (StreamMoved) unless its head is `head`: pruning removes old events, so the events
    primary key alone cannot tell."""
    query = QUERIES["check_stream_head" if held else "lock_stream_head"]
    return Statement(query, {"tenant_id": tenant_id, "id": stream_id, "head": head})


def append(
    store: EventStore, tenant_id: UUID, aggregate: Aggregate, *, project: bool
) -> list[Statement]:
    """The statements that append `aggregate`'s pending events; the last one answers the
    write's position (txid, notification id) in the runner's order."""
    events = aggregate.pending_events
    parts, params = store.append_params(tenant_id, events, aggregate)
    check = head_check(tenant_id, aggregate.id, events[0].originator_version - 1)
    rows: tuple[str, ...] = ()
    later: tuple[str, ...] = ()
    if isinstance(aggregate, Script):
        parts += _route_parts(aggregate, params)
        later = _schedule_parts(aggregate, params)
        if project:
            rows, row_params = script_rows(aggregate, events, tags_changed=_tags_changed(events))
            params.update(row_params)
    elif project:
        rows, row_params = execution_rows(aggregate)
        params.update(row_params)
    statement = write_statement(parts, rows, later)
    return [check, Statement(statement, params, appends=True)]


def _tags_changed(events: Any) -> bool:
    return any(isinstance(e, _TAG_EVENTS) for e in events)


def _route_parts(script: Script, params: dict[str, Any]) -> tuple[str, ...]:
    """The route parts the script's change needs, their parameters added."""
    if script.type is not ScriptType.HTTP or not any(
        isinstance(e, _ROUTE_EVENTS) for e in script.pending_events
    ):
        return ()
    route = script.metadata
    if not isinstance(route, HTTPMetadata) or script.is_deleted:
        return ("route_release",)
    params["method"], params["path"] = route.method, route.path
    return ("route_release", "route_claim")


def _schedule_parts(script: Script, params: dict[str, Any]) -> tuple[str, ...]:
    """The schedule part the script's change needs (it starts, anchored at the change, or
    ends), its parameters added."""
    change = schedule_change(script.pending_events)
    if change is None:
        return ()
    metadata = script.metadata
    if not script.is_enabled or script.is_deleted or not isinstance(metadata, CronMetadata):
        return ("unschedule",)
    params["anchor"], params["next_fire_at"] = (
        change.timestamp,
        next_fire(metadata, change.timestamp),
    )
    return ("schedule",)


def snapshot(store: EventStore, tenant_id: UUID, state: Aggregate) -> Statement:
    """Store `state` whole (a prune's snapshot at its horizon)."""
    return Statement(QUERIES["insert_snapshot"], store.snapshot_params(tenant_id, state))

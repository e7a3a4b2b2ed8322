"""What storing a decision writes, as statements: pure (no I/O), shared by every driver.

An append is the stream's head check under its lock, then one statement that appends the
events, maybe a snapshot, the route changes and (inline projection) the read-model rows.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from projections.rows import execution_params, script_params
from projections.writer import rows_part
from scripts_es.domain import Execution, Script
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

_TEMPLATES = load_templates("scripts_es.service", "writes.sql")
WRITES = {
    name: render(
        _TEMPLATES[name].format(
            append=_TEMPLATES["append"],
            script_rows=rows_part("script_rows"),
            execution_rows=rows_part("execution_rows"),
        )
    )
    for name in ("write_script", "write_execution")
}
_ROUTE_EVENTS = (ScriptCreated, ScriptMetadataChanged, ScriptDeleted)
_TAG_EVENTS = (ScriptCreated, ScriptDetailsChanged)


def head_check(tenant_id: UUID, stream_id: UUID, head: int) -> Statement:
    """Hold the stream until commit and refuse the write (StreamMoved) unless its head is
    `head`: pruning removes old events, so the events primary key alone cannot tell."""
    return Statement(
        QUERIES["lock_stream_head"], {"tenant_id": tenant_id, "id": stream_id, "head": head}
    )


def append(
    store: EventStore, tenant_id: UUID, aggregate: Aggregate, *, project: bool
) -> list[Statement]:
    """The statements that append `aggregate`'s pending events; the last one answers the
    write's position (txid, notification id) in the runner's order."""
    events = aggregate.pending_events
    params, _ = store.append_params(tenant_id, events, aggregate)
    params["project"] = project
    check = head_check(tenant_id, aggregate.id, events[0].originator_version - 1)
    if isinstance(aggregate, Execution):
        return [
            check,
            Statement(
                WRITES["write_execution"], {**params, **execution_params(aggregate)}, appends=True
            ),
        ]
    script = {**params, **_script_params(aggregate)}
    return [check, Statement(WRITES["write_script"], script, appends=True)]


def _script_params(script: Script) -> dict[str, Any]:
    events = script.pending_events
    route_changed = script.type is ScriptType.HTTP and any(
        isinstance(e, _ROUTE_EVENTS) for e in events
    )
    metadata = script.metadata
    route = metadata if route_changed and not script.is_deleted else None
    return {
        **schedule_params(script, events),
        **script_params(script, events),
        "tags_changed": any(isinstance(e, _TAG_EVENTS) for e in events),
        "route_changed": route_changed,
        "method": route.method if isinstance(route, HTTPMetadata) else None,
        "path": route.path if isinstance(route, HTTPMetadata) else None,
    }


def schedule_params(script: Script, events: Any) -> dict[str, Any]:
    """The schedule a script's change starts (anchored at the change) or ends, if it does."""
    change = schedule_change(events)
    metadata = script.metadata
    runs = script.is_enabled and not script.is_deleted and isinstance(metadata, CronMetadata)
    anchor = change.timestamp if change is not None and runs else None
    return {
        "schedule_changed": change is not None,
        "anchor": anchor,
        "next_fire_at": (
            next_fire(metadata, anchor)
            if anchor is not None and isinstance(metadata, CronMetadata)
            else None
        ),
    }


def snapshot(store: EventStore, tenant_id: UUID, state: Aggregate) -> Statement:
    """Store `state` whole (a prune's snapshot at its horizon)."""
    return Statement(QUERIES["insert_snapshot"], store.snapshot_params(tenant_id, state))

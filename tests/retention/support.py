"""Helpers of the retention suite: a clock tests move by hand, raw superuser views of the store,
and the reference reading of DESIGN §5's retention rule."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg

from scripts_es.domain import Script, VersionRetentionPolicy

EPOCH = datetime(2031, 1, 1, tzinfo=UTC)

STREAM_TABLES = ("events", "snapshots", "script_versions", "prune_audit")
TENANT_TABLES = (
    "events",
    "snapshots",
    "commands",
    "script_routes",
    "prune_audit",
    "scripts",
    "script_versions",
    "executions",
)
READ_MODEL_ORDER = {
    "scripts": "tenant_id, id",
    "script_versions": "tenant_id, script_id, version",
    "executions": "tenant_id, id",
}
ORDER = {
    "events": "tenant_id, originator_id, originator_version",
    "snapshots": "tenant_id, originator_id, originator_version",
    "commands": "tenant_id, command_id",
    "script_routes": "tenant_id, method, path",
    "prune_audit": "tenant_id, id",
    **READ_MODEL_ORDER,
}


class Clock:
    """A clock that only moves when told to (thread-safe); `tick` makes every read distinct."""

    def __init__(self, start: datetime = EPOCH, *, tick: timedelta = timedelta(0)) -> None:
        self.now = start
        self.tick = tick
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            now = self.now
            self.now += self.tick
            return now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self.now += delta
            return self.now

    def set_day(self, day: float) -> datetime:
        with self._lock:
            self.now = EPOCH + timedelta(days=day)
            return self.now


class Raw:
    """A superuser connection (RLS does not apply) to look at what is really stored."""

    def __init__(self, dsn: str) -> None:
        self.conn = psycopg.connect(dsn, autocommit=True)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Raw:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def rows(self, query: str, params: Any = None) -> list[tuple[Any, ...]]:
        return self.conn.execute(query, params).fetchall()

    def scalar(self, query: str, params: Any = None) -> Any:
        row = self.conn.execute(query, params).fetchone()
        assert row is not None
        return row[0]

    def table(self, name: str, where: str = "TRUE", params: Any = None) -> list[tuple[Any, ...]]:
        return self.rows(
            f"SELECT * FROM scripts_es.{name} WHERE {where} ORDER BY {ORDER[name]}", params
        )

    def read_model(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every read-model table, every tenant."""
        return {name: self.table(name) for name in READ_MODEL_ORDER}

    def tenant_state(self, tenant_id: UUID) -> dict[str, list[tuple[Any, ...]]]:
        """Every row the tenant owns, in every table."""
        return {name: self.table(name, "tenant_id = %s", (tenant_id,)) for name in TENANT_TABLES}

    def everything(self) -> dict[str, list[tuple[Any, ...]]]:
        return {name: self.table(name) for name in TENANT_TABLES}

    def count(self, table: str, column: str, stream_id: UUID) -> int:
        return int(
            self.scalar(
                f"SELECT count(*) FROM scripts_es.{table} WHERE {column} = %s", (stream_id,)
            )
        )

    def event_versions(self, stream_id: UUID) -> list[int]:
        return [
            row[0]
            for row in self.rows(
                "SELECT originator_version FROM scripts_es.events WHERE originator_id = %s"
                " ORDER BY originator_version",
                (stream_id,),
            )
        ]

    def snapshot_versions(self, stream_id: UUID) -> list[int]:
        return [
            row[0]
            for row in self.rows(
                "SELECT originator_version FROM scripts_es.snapshots WHERE originator_id = %s"
                " ORDER BY originator_version",
                (stream_id,),
            )
        ]

    def audit(self, script_id: UUID) -> list[tuple[Any, ...]]:
        """(pruned_at, pruned_by, policy, horizon, removed) of each prune, oldest first."""
        return self.rows(
            "SELECT pruned_at, pruned_by, policy, horizon, removed FROM scripts_es.prune_audit"
            " WHERE script_id = %s ORDER BY id",
            (script_id,),
        )


def reference_horizon(
    stamps: Mapping[int, datetime], current: int, now: datetime, policy: VersionRetentionPolicy
) -> int:
    """DESIGN §5 read literally: retained iff v > c - max_versions (if set) and its event is
    not older than retention_days (if set); c is always retained; the horizon is the smallest."""
    retained = {current}
    for version, at in stamps.items():
        if policy.max_versions is not None and not version > current - policy.max_versions:
            continue
        if policy.retention_days is not None and now - at > timedelta(days=policy.retention_days):
            continue
        retained.add(version)
    return min(retained)


def stamps_of(states: Iterable[Script]) -> dict[int, datetime]:
    return {state.version: state.updated_at for state in states}

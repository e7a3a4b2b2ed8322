"""Schema versions (DESIGN §12): numbered SQL migrations, applied in order under an advisory lock.

`scripts_es/migrations/NNNN_name.sql` are the steps from an empty database; 0001 is release
0.1.0's schema exactly as released. A fresh database gets `schema.sql` (the complete schema) and
records every version; an older one gets the missing steps, each recorded in
`scripts_es.schema_version`, all in one transaction. A database of release 0.1.0 (which recorded
a digest of its schema.sql instead) counts as version 1. A database newer than the code, or
older without an upgrade, is refused with a `SchemaVersionMismatch` naming both versions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import Any

import psycopg

from scripts_es.domain.schedule import next_fire
from scripts_es.domain.values import CronMetadata
from scripts_es.errors import SchemaVersionMismatch
from scripts_es.store.errors import translated
from scripts_es.store.sql import load, schema_sql

QUERIES = load("scripts_es.store", "migrations.sql")
_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
RELEASE_0_1_0 = 1  # the version a database made by release 0.1.0 is at


@dataclass(frozen=True)
class Migration:
    """One numbered step of the schema."""

    version: int
    name: str

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"

    def sql(self) -> str:
        return files("scripts_es.migrations").joinpath(self.filename).read_text(encoding="utf-8")


@dataclass(frozen=True)
class SchemaStatus:
    """Where a database stands: its version, the code's, and the steps recorded so far."""

    database_version: int | None
    code_version: int
    applied: tuple[tuple[int, str, datetime | None], ...]

    @property
    def pending(self) -> tuple[Migration, ...]:
        done = self.database_version or 0
        return tuple(m for m in migrations() if m.version > done)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database_version": self.database_version,
            "code_version": self.code_version,
            "up_to_date": self.database_version == self.code_version,
            "pending": [m.filename for m in self.pending],
            "applied": [
                {"version": v, "name": n, "applied_at": None if at is None else at.isoformat()}
                for v, n, at in self.applied
            ],
        }


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration shipped with the code, in order; numbered 1, 2, 3, … without gaps."""
    found = []
    for entry in files("scripts_es.migrations").iterdir():
        match = _FILE.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2)))
    found.sort(key=lambda m: m.version)
    numbers = [m.version for m in found]
    if numbers != list(range(1, len(found) + 1)):
        raise AssertionError(f"migrations must be numbered 1..n without gaps: {numbers}")
    return tuple(found)


def code_version() -> int:
    """The schema version this code is written for: its newest migration."""
    return migrations()[-1].version


def database_version(conn: psycopg.Connection[Any]) -> int | None:
    """The database's schema version, or None when the schema was never installed."""
    row = conn.execute(QUERIES["catalog_state"]).fetchone()
    assert row is not None
    has_versions, has_digest, has_events = row
    if has_versions:
        newest = conn.execute(QUERIES["newest_version"]).fetchone()
        return None if newest is None or newest[0] is None else int(newest[0])
    if has_digest or has_events:
        return RELEASE_0_1_0
    return None


def status(conn: psycopg.Connection[Any]) -> SchemaStatus:
    """The database's version and recorded steps (nothing is changed)."""
    version = database_version(conn)
    applied: list[tuple[int, str, datetime | None]] = []
    if version is not None:
        row = conn.execute(QUERIES["catalog_state"]).fetchone()
        if row is not None and row[0]:
            applied = [
                (int(v), str(n), at) for v, n, at in conn.execute(QUERIES["applied_versions"])
            ]
        else:
            applied = [(RELEASE_0_1_0, migrations()[0].name, None)]
    return SchemaStatus(version, code_version(), tuple(applied))


def check(conn: psycopg.Connection[Any]) -> int:
    """The database's version if it is the code's; else a SchemaVersionMismatch saying what
    to run."""
    version = database_version(conn)
    latest = code_version()
    if version == latest:
        return version
    if version is None:
        message = "the scripts-es schema is not installed: run `scripts-es db install`"
    elif version > latest:
        message = (
            f"the database's scripts-es schema is at version {version}, newer than this code "
            f"knows (version {latest}): upgrade scripts-es before using this database"
        )
    else:
        message = (
            f"the database's scripts-es schema is at version {version}; this code needs "
            f"version {latest}: run `scripts-es db upgrade`"
        )
    raise SchemaVersionMismatch(version, latest, message)


def upgrade(dsn: str) -> tuple[int | None, int]:
    """Install the schema, or apply the missing migrations; (version before, version after).

    One transaction under the schema's advisory lock: a second process upgrading at the same
    time waits, then finds nothing left to do.
    """
    latest = code_version()
    with translated(), psycopg.connect(dsn, autocommit=False) as conn:
        conn.execute(QUERIES["lock_schema"])
        before = database_version(conn)
        if before is not None and before > latest:
            conn.rollback()
            check(conn)  # raises: newer than the code
        if before == latest:
            conn.rollback()
            return before, latest
        if before is None:
            conn.execute(schema_sql().encode())
            steps = migrations()
        else:
            steps = tuple(m for m in migrations() if m.version > before)
            for step in steps:
                conn.execute(step.sql().encode())
                if step.version in DATA_STEPS:
                    DATA_STEPS[step.version](conn)
            if before == RELEASE_0_1_0:
                steps = migrations()  # record the baseline too
        for step in steps:
            conn.execute(QUERIES["record_version"], {"version": step.version, "name": step.name})
        conn.commit()
    return before, latest


def _schedule_cron_scripts(conn: psycopg.Connection[Any]) -> None:
    """0004: the enabled cron scripts a database already holds get their schedule, anchored
    at their last change (the anchor rebuild gives a script with no schedule row)."""
    conn.execute(QUERIES["as_maintenance"])
    rows = conn.execute(QUERIES["unscheduled_cron_scripts"]).fetchall()
    with conn.cursor() as cursor:
        cursor.executemany(
            QUERIES["insert_schedule"],
            [
                (tenant, script, changed, next_fire(CronMetadata.model_validate(meta), changed))
                for tenant, script, meta, changed in rows
            ],
        )
    conn.execute(QUERIES["as_owner"])


# Python steps that follow a migration's SQL when it upgrades a database holding data.
DATA_STEPS = {4: _schedule_cron_scripts}

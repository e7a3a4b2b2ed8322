"""The two things that write: one scripts-es command, and one bare INSERT-and-commit.

Both are used by the single-writer figure (writes.py) and by every process of the concurrent one.
"""

from __future__ import annotations

import os
import uuid
from typing import Any
from uuid import UUID

import psycopg

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c

# The bare baseline: a table of the same shape as scripts_es.events (its key, its payload).
RAW_TABLE = """
CREATE TABLE IF NOT EXISTS public.bench_raw_events (
    tenant_id          uuid   NOT NULL,
    originator_id      uuid   NOT NULL,
    originator_version bigint NOT NULL,
    topic              text   NOT NULL,
    state              bytea  NOT NULL,
    PRIMARY KEY (tenant_id, originator_id, originator_version)
)"""
RAW_INSERT = (
    "INSERT INTO public.bench_raw_events "
    "(tenant_id, originator_id, originator_version, topic, state) VALUES (%s, %s, %s, %s, %s)"
)
SET_TENANT = "SELECT set_config('app.tenant_id', %s, true)"
FILLER = "    total = total + step(item)  # a line of a user's script\n" * 4


class CommandWriter:
    """`t.handle(UpdateScriptContent(...))` on one script, new content every time."""

    def __init__(self, module: ScriptsModule, tenant_id: UUID, user_id: UUID) -> None:
        self.t: TenantSession = module.tenant(tenant_id, user_id)
        created = self.t.handle(
            c.CreateScript(name=f"bench {uuid.uuid4().hex[:8]}", content="x", type="embedded")
        )
        self.script_id: UUID = created.id
        self.n = 0

    def step(self) -> None:
        self.n += 1
        content = f"# revision {self.n}\n{FILLER}"
        self.t.handle(c.UpdateScriptContent(script_id=self.script_id, content=content))


class RawWriter:
    """One autocommit INSERT per transaction (one round trip, prepared), same payload size.

    envelope "explicit" sends it in the module's transaction shape instead: one pipeline of
    BEGIN, the tenant setting, the INSERT and COMMIT (still one round trip); "implicit" drops
    BEGIN and COMMIT (the statements before the pipeline's Sync form one implicit transaction).
    """

    def __init__(
        self, dsn: str, topic: str, payload_bytes: int, envelope: str = "", create: bool = True
    ) -> None:
        self.conn: psycopg.Connection[Any] = psycopg.connect(
            dsn, autocommit=True, application_name="bench-raw"
        )
        if create:
            self.conn.execute(RAW_TABLE)
        self.tenant_id, self.originator_id = uuid.uuid4(), uuid.uuid4()
        self.topic = topic
        self.payload = os.urandom(payload_bytes)
        self.envelope = envelope
        self.n = 0

    def step(self) -> None:
        self.n += 1
        row = (self.tenant_id, self.originator_id, self.n, self.topic, self.payload)
        if not self.envelope:
            self.conn.execute(RAW_INSERT, row, prepare=True)
            return
        explicit = self.envelope == "explicit"
        with self.conn.pipeline():
            if explicit:
                self.conn.execute("BEGIN")
            self.conn.execute(SET_TENANT, (str(self.tenant_id),), prepare=True)
            self.conn.execute(RAW_INSERT, row, prepare=True)
            if explicit:
                self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


def event_shape(admin_dsn: str, script_id: UUID) -> tuple[str, int]:
    """(topic, average payload bytes) of the content-update events scripts-es wrote."""
    with psycopg.connect(admin_dsn) as conn:
        row = conn.execute(
            "SELECT min(topic), avg(octet_length(state))::int FROM scripts_es.events "
            "WHERE originator_id = %s AND originator_version > 1",
            (script_id,),
        ).fetchone()
    assert row is not None and row[1] is not None, "no content-update events written yet"
    return str(row[0]), int(row[1])

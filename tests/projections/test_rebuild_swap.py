"""A full rebuild swaps new tables in: the schema it leaves is the one the migrations make, and
the rows it writes through the trusted decoding equal those of the validating one."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from typing import Any

import orjson
import psycopg
import pytest
from eventsourcing.persistence import StoredEvent
from pydantic import ValidationError

from projections import decode, rebuild
from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.store import migrations
from scripts_es.store.mapper import PydanticMapper
from tests.migrations.catalog import catalog, differences
from tests.projections.support import Workload, assert_rebuild_reproduces_live_tables
from tests.support.raw import dump_read_model, scratch_tables_left


def populated(module: ScriptsModule, steps: int = 120, seed: int = 7) -> Workload:
    workload = Workload(module, random.Random(seed))
    for _ in range(steps):
        workload.step()
    return workload


def test_a_database_after_a_full_rebuild_has_the_catalog_of_a_fresh_one(
    empty_database: Callable[[], str],
) -> None:
    fresh, rebuilt = empty_database(), empty_database()
    with psycopg.connect(fresh) as conn:  # every migration applied in order
        for migration in migrations.migrations():
            conn.execute(migration.sql().encode())
    with ScriptsModule.open(rebuilt) as module:  # installs schema.sql
        before = catalog(rebuilt)
        populated(module, steps=40)
        module.rebuild_projections()
        module.rebuild_projections()  # the swapped-in tables are swapped out again alike
    after = catalog(rebuilt)
    assert before["indexes"] and before["policies"]
    assert differences(catalog(fresh), after) == {}


def test_the_rebuilt_tables_are_new_ones(module: ScriptsModule, dsn: str) -> None:
    populated(module, steps=20)
    query = "SELECT 'scripts_es.scripts'::regclass::oid"
    with psycopg.connect(dsn, autocommit=True) as conn:
        before = conn.execute(query).fetchone()
        module.rebuild_projections()
        after = conn.execute(query).fetchone()
    assert before != after  # a swap, not a re-insert: the catalog test above checks a real one


def test_a_full_rebuild_reproduces_the_live_tables_after_a_random_mix(
    module: ScriptsModule, dsn: str
) -> None:
    populated(module, steps=150, seed=3)
    assert_rebuild_reproduces_live_tables(module, dsn)


def test_trusted_decoding_equals_validation_for_every_stored_event(
    module: ScriptsModule, dsn: str
) -> None:
    populated(module, steps=200, seed=11)
    mapper = PydanticMapper()
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT originator_id, originator_version, topic, state FROM scripts_es.events"
        ).fetchall()
    topics = {topic for _, _, topic, _ in rows}
    assert len(topics) >= 8  # both streams, most kinds of event
    for stream_id, version, topic, state in rows:
        validated = mapper.to_domain_event(StoredEvent(stream_id, version, topic, bytes(state)))
        trusted = decode.stored_event(mapper, stream_id, version, topic, bytes(state))
        assert type(trusted) is type(validated)
        assert trusted.__dict__ == validated.__dict__


OLD_PAYLOADS = [
    # class_version 1 payloads (release 0.1.0): upcast before the trusted construction.
    (
        "scripts_es.domain.events:ScriptCreated",
        {
            "name": "a",
            "description": "",
            "content": "x",
            "type": "cron",
            "metadata": {"cron_expression": "*/5 * * * *", "timezone": "UTC"},
        },
    ),
    (
        "scripts_es.domain.events:ExecutionCompleted",
        {
            "status": "completed",
            "result": {
                "output": "o",
                "error": "",
                "logs": [
                    {"timestamp": "2024-01-01T00:00:01+02:00", "level": "info", "message": "m"}
                ],
            },
            "duration_ms": 1500,
        },
    ),
    (
        "scripts_es.domain.events:ExecutionStarted",
        {
            "script_id": str(uuid.uuid4()),
            "script_version": 3,
            "trigger": {"type": "api"},
            "input": {"n": 1.5, "deep": [1, {"x": None}]},
        },
    ),
]


@pytest.mark.parametrize(("topic", "payload"), OLD_PAYLOADS)
def test_trusted_decoding_upcasts_old_class_versions_like_validation(
    topic: str, payload: dict[str, object]
) -> None:
    mapper = PydanticMapper()
    common = {
        "tenant_id": str(uuid.uuid4()),
        "user_id": None,
        "timestamp": "2024-01-01T03:00:00.123456+03:00",
    }
    state = orjson.dumps({**common, **payload})
    stream_id = uuid.uuid4()
    validated = mapper.to_domain_event(StoredEvent(stream_id, 2, topic, state))
    trusted = decode.stored_event(mapper, stream_id, 2, topic, state)
    assert trusted.__dict__ == validated.__dict__
    assert trusted.timestamp.utcoffset() is not None and trusted.timestamp.hour == 0


def test_a_stored_event_the_trusted_path_cannot_read_is_validated_in_full() -> None:
    mapper = PydanticMapper()
    topic = "scripts_es.domain.events:ScriptEnabled"
    state = orjson.dumps(
        {
            "tenant_id": str(uuid.uuid4()),
            "user_id": None,
            "timestamp": "2024-01-01T00:00:00",
            "stray": 1,
        }
    )
    with pytest.raises(ValidationError):
        decode.stored_event(mapper, uuid.uuid4(), 1, topic, state)


def test_a_rebuild_leaves_the_rows_the_runner_wrote(module: ScriptsModule, dsn: str) -> None:
    populated(module, steps=60, seed=5)
    live = dump_read_model(dsn)
    module.rebuild_projections()
    assert dump_read_model(dsn) == live


def test_successors_left_by_a_crash_between_the_phases_stop_neither_verify_nor_rebuild(
    module: ScriptsModule, dsn: str
) -> None:
    populated(module, steps=30)
    with module.db.maintenance_connection() as conn:
        owner = rebuild.swap_owner(conn)
        assert owner is not None
        rebuild.build_scratch(conn, module.store, None, None, owner)  # phase 1 only
    assert any("successor" in name for name in scratch_tables_left(dsn))
    assert module.verify_projections().ok
    module.rebuild_projections()
    assert scratch_tables_left(dsn) == []
    assert module.verify_projections().ok


def test_a_swap_that_loses_a_deadlock_is_run_again(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Phase 2 of a full rebuild holds the live tables exclusively: a reader that holds them
    in another order can deadlock with it, and PostgreSQL may choose the rebuild. Phase 1's
    tables are still there, so phase 2 runs again and the rebuild completes."""
    with ScriptsModule.open(dsn, install=False) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        script = t.handle(c.CreateScript(name="kept", content="x", type="one_off"))
        t.handle(c.UpdateScriptContent(script_id=script.id, content="y"))
        real = rebuild.catch_up
        calls: list[int] = []

        def deadlocked_once(*args: Any, **kwargs: Any) -> None:
            calls.append(1)
            real(*args, **kwargs)
            if len(calls) == 1:
                raise psycopg.errors.DeadlockDetected("deadlock detected (injected)")

        monkeypatch.setattr(rebuild, "catch_up", deadlocked_once)
        report = module.rebuild_projections()
        monkeypatch.undo()
        assert len(calls) == 2
        assert report.scripts == 1
        assert t.scripts.find_by_id(script.id).content == "y"
        assert_rebuild_reproduces_live_tables(module, dsn)

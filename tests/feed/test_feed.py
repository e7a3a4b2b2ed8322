"""module.feed(): commit order as positions, tenant isolation by row-level security, the
held-back report, pruning seen by a consumer that is behind."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_es import ScriptsModule, commands
from scripts_es.domain.events import ScriptContentUpdated, ScriptCreated
from scripts_es.domain.notices import EventPruned
from scripts_es.errors import InvalidInput
from scripts_es.store.feed import PRUNED_TOPIC, QUERIES, Feed, FeedEvent
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.horizon import holding_the_horizon

NO_STOP = 2**62


def read_when(feed: Feed, after: int, count: int) -> list[FeedEvent]:
    """The next `count` positions of `feed` after `after`, once they are sequenced: another
    test's transaction on the same server may hold the horizon for a while."""
    deadline = time.monotonic() + 60
    while True:
        events = feed.read(after, count)
        if len(events) == count or time.monotonic() > deadline:
            return events
        time.sleep(0.01)


def write(module: ScriptsModule, tenant_id: uuid.UUID, updates: int) -> uuid.UUID:
    t = module.tenant(tenant_id, uuid.uuid4())
    script = t.handle(commands.CreateScript(name="s", content="0", type="one_off"))
    for n in range(updates):
        t.handle(commands.UpdateScriptContent(script_id=script.id, content=str(n + 1)))
    return script.id


@settings(max_examples=15)
@given(plan=st.lists(st.tuples(st.integers(0, 2), st.integers(0, 3)), min_size=1, max_size=6))
def test_a_tenant_feed_never_yields_another_tenants_event_even_asked_for_every_position(
    module: ScriptsModule, plan: list[tuple[int, int]]
) -> None:
    tenants = [uuid.uuid4() for _ in range(3)]
    start = module.feed().last_position() or 0
    for index, updates in plan:
        write(module, tenants[index], updates)
    written = len(plan) + sum(updates for _, updates in plan)
    everything = read_when(module.feed(), start, written)
    last = everything[-1].position
    for tenant in tenants:
        feed = module.feed(tenant)
        mine = [e for e in everything if e.tenant_id == tenant]
        assert feed.read(start, 100_000, stop=last) == mine
        for position in range(start + 1, last + 1):  # every position, one by one
            got = feed.read(position - 1, 10, stop=position)
            assert all(e.tenant_id == tenant for e in got)
        # Row-level security, not the query, filters: the maintenance view's query (which names
        # no tenant) run in this tenant's transaction still sees only this tenant's rows.
        with module.db.tenant(tenant) as conn:
            rows = conn.execute(
                QUERIES["read"],
                {
                    "after": start,
                    "stop": last,
                    "limit": 100_000,
                    "topics": [],
                    "pruned_topic": PRUNED_TOPIC,
                },
            ).fetchall()
        assert {row[1] for row in rows} <= {tenant}
        assert len(rows) == len(mine)


def test_positions_are_dense_and_decode_into_the_modules_event_classes(
    module: ScriptsModule,
) -> None:
    tenant = uuid.uuid4()
    start = module.feed().last_position() or 0
    script_id = write(module, tenant, 2)
    events = read_when(module.feed(tenant), start, 3)
    assert [e.position for e in events] == list(range(events[0].position, events[0].position + 3))
    decoded = [module.feed(tenant).decode(e) for e in events]
    assert [type(d) for d in decoded] == [ScriptCreated, ScriptContentUpdated, ScriptContentUpdated]
    assert {d.originator_id for d in decoded} == {script_id}


def test_a_feed_of_something_that_is_not_a_tenant_id_is_refused(module: ScriptsModule) -> None:
    with pytest.raises(InvalidInput, match="tenant_id"):
        module.feed("acme")  # type: ignore[arg-type]


@pytest.mark.parametrize(("after", "limit"), [(-1, 10), (0, 0), (0, 100_001), ("1", 10)])
def test_a_read_outside_the_feed_is_refused_before_the_database(
    module: ScriptsModule, after: object, limit: int
) -> None:
    with pytest.raises(InvalidInput, match=r"after|limit"):
        module.feed(uuid.uuid4()).read(after, limit)  # type: ignore[arg-type]


@pytest.fixture
def holder(dsn: str) -> Iterator[psycopg.Connection[object]]:
    with holding_the_horizon(dsn) as conn:
        yield conn


def test_a_transaction_in_flight_holds_the_feed_back_and_the_feed_names_it(
    module: ScriptsModule, holder: psycopg.Connection[object], dsn: str
) -> None:
    tenant = uuid.uuid4()
    feed = module.feed(tenant)
    write(module, tenant, 0)  # committed after the holder took its transaction id
    assert feed.read(0, 10) == []
    report = feed.held_back()
    assert report is not None
    assert report.pid == holder.info.backend_pid
    assert report.database == psycopg.conninfo.conninfo_to_dict(dsn)["dbname"]
    assert report.waiting_events >= 1 and report.held_seconds is not None
    assert str(report.pid) in report.describe() and "database" in report.describe()
    holder.rollback()
    assert [type(feed.decode(e)) for e in read_when(feed, 0, 1)] == [ScriptCreated]


def test_a_consumer_behind_a_prune_is_told_of_every_pruned_event(module: ScriptsModule) -> None:
    tenant = uuid.uuid4()
    feed = module.feed(tenant)
    script_id = write(module, tenant, 4)  # versions 1..5
    behind = read_when(feed, 0, 1)  # the consumer has read version 1 only
    module.tenant(tenant, uuid.uuid4()).handle(
        commands.PruneScriptHistory(script_id=script_id, max_versions=2)
    )
    rest = read_when(feed, behind[-1].position, 4)
    assert [e.position for e in rest] == list(range(behind[0].position + 1, behind[0].position + 5))
    decoded = [feed.decode(e) for e in rest]
    pruned = [d for d in decoded if isinstance(d, EventPruned)]
    assert [(d.originator_version, d.topic.rsplit(":", 1)[-1]) for d in pruned] == [
        (2, "ScriptContentUpdated"),
        (3, "ScriptContentUpdated"),
    ]
    assert [d.originator_version for d in decoded if isinstance(d, ScriptContentUpdated)] == [4, 5]


def test_events_pruned_before_the_sequencer_reached_them_still_get_positions_as_notices(
    module: ScriptsModule, holder: psycopg.Connection[object]
) -> None:
    tenant = uuid.uuid4()
    feed = module.feed(tenant)
    script_id = write(module, tenant, 3)  # held back: no positions yet
    module.tenant(tenant, uuid.uuid4()).handle(
        commands.PruneScriptHistory(script_id=script_id, max_versions=1)
    )
    assert feed.read(0, 10) == []
    holder.rollback()
    decoded = [feed.decode(e) for e in read_when(feed, 0, 4)]
    assert [type(d).__name__ for d in decoded] == ["EventPruned"] * 3 + ["ScriptContentUpdated"]
    assert [d.originator_version for d in decoded] == [1, 2, 3, 4]

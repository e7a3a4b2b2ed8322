"""Random command sequences across tenants: find/count agree with an in-memory model, and a
rebuild from scratch reproduces the incrementally maintained tables row for row.

Each command goes, at random, through the module as opened (inline projection) or through the
same module configured to leave the read model to the runner, which runs before every read.
Both paths must converge on the same rows, whatever order they applied events in.
"""

from __future__ import annotations

import dataclasses
import functools
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    precondition,
    rule,
    run_state_machine_as_test,
)

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.projections.support import assert_rebuild_reproduces_live_tables, catch_up, metadata_for
from tests.support.pg import throwaway_db
from tests.support.raw import dump_read_model
from tests.support.strategies import normalise_tags

pytestmark = pytest.mark.slow

# Text PostgreSQL's lower() (C.UTF-8) and str.lower() agree on: ASCII plus the LIKE specials.
ALPHABET = string.ascii_letters + string.digits + " %_\\'"
# A small alphabet makes substring searches hit often.
SMALL = "aAbB1 %_\\'"
START = datetime(2024, 1, 1, tzinfo=UTC)
TENANTS = 2  # few, so that every tenant has enough scripts for filters to match
TYPES = ("cron", "http", "one_off", "embedded")
TAG_POOL = ("alpha", "Beta", " gamma ", "x_y", "50%", "back\\slash")
ZERO = timedelta(0)

names = st.text(SMALL, min_size=1, max_size=6).filter(lambda s: s.strip()) | st.text(
    ALPHABET, min_size=1, max_size=12
).filter(lambda s: s.strip())
descriptions = st.text(SMALL, max_size=6) | st.text(ALPHABET, max_size=12)
tag_lists = st.lists(st.sampled_from(TAG_POOL), max_size=3)
contents = st.sampled_from(["a", "b", "c"])
ticks = st.sampled_from([0, 0, 1, 3])  # seconds; many ties on purpose
picks = st.integers(0, 10_000)
moments = st.integers(-1, 40).map(lambda s: START + timedelta(seconds=s))


def ordered(rows: list[Any], sort: tuple[tuple[str, str], ...]) -> list[Any]:
    """PostgreSQL's ORDER BY: keys in turn, NULL larger than any value, then id in the
    direction of the last key (stable sorts applied from the last key to the first)."""

    def null_last(value: Any) -> tuple[Any, ...]:
        return (1,) if value is None else (0, value)

    out = sorted(rows, key=lambda r: r.id, reverse=sort[-1][1] == "desc")
    for name, direction in reversed(sort):
        out.sort(key=lambda r, n=name: null_last(getattr(r, n)), reverse=direction == "desc")
    return out


@dataclass
class ScriptModel:
    id: uuid.UUID
    tenant: uuid.UUID
    name: str
    description: str
    content: str
    type: str
    metadata: dict[str, Any]
    tags: tuple[str, ...]
    created_by: uuid.UUID
    created_at: datetime
    updated_at: datetime
    version: int = 1
    enabled: bool = True
    deleted: bool = False


@dataclass
class ExecutionModel:
    id: uuid.UUID
    tenant: uuid.UUID
    script_id: uuid.UUID
    status: str
    trigger_type: str
    started_at: datetime | None
    completed_at: datetime | None = None
    duration: timedelta = ZERO


@dataclass
class Tenant:
    id: uuid.UUID
    users: list[uuid.UUID] = field(default_factory=lambda: [uuid.uuid4(), uuid.uuid4()])


SCRIPT_FILTERS: dict[str, st.SearchStrategy[Any]] = {
    "type": st.sampled_from(TYPES),
    "enabled": st.booleans(),
    "tags_any": st.lists(st.sampled_from(TAG_POOL), max_size=2),
    "tags_all": st.lists(st.sampled_from(TAG_POOL), max_size=2),
    "search": st.text(SMALL, max_size=2) | st.text(ALPHABET, max_size=3),
    "created_by": st.integers(0, 2),  # a user of the tenant, or (2) of another tenant
    "updated_after": moments,
    "updated_before": moments,
}
EXECUTION_FILTERS: dict[str, st.SearchStrategy[Any]] = {
    "status": st.sampled_from(["pending", "running", "completed", "failed", "timeout"]),
    "trigger_type": st.sampled_from(["manual", "cron", "api"]),
    "started_after": moments,
    "started_before": moments,
}


def sorts(fields: list[str]) -> st.SearchStrategy[list[tuple[str, str]]]:
    key = st.tuples(st.sampled_from(fields), st.sampled_from(["asc", "desc"]))
    return st.lists(key, min_size=1, max_size=2)


@st.composite
def find_params(
    draw: st.DrawFn, filters: dict[str, st.SearchStrategy[Any]], sort_fields: list[str]
) -> dict[str, Any]:
    """Up to two filters (more rarely match anything), maybe a sort, limit and offset."""
    how_many = draw(st.sampled_from([0, 1, 1, 2]))
    names = draw(st.lists(st.sampled_from(sorted(filters)), min_size=how_many,
                          max_size=how_many, unique=True))  # fmt: skip
    raw = {name: draw(filters[name]) for name in names}
    if draw(st.booleans()):
        raw["sort"] = draw(sorts(sort_fields))
    if draw(st.booleans()):
        raw["limit"] = draw(st.integers(1, 6))
    if draw(st.sampled_from([False, False, False, True])):
        raw["offset"] = draw(st.integers(1, 3))
    return raw


script_params = find_params(SCRIPT_FILTERS, ["name", "created_at", "updated_at", "version"])
execution_params = find_params(EXECUTION_FILTERS, ["started_at", "completed_at", "duration"])


# (execution id, trigger type, queued rather than started)
executions = st.tuples(st.uuids(), st.sampled_from(["manual", "cron", "api"]), st.booleans())
creations = st.fixed_dictionaries(
    {
        "tenant": st.integers(0, TENANTS - 1),
        "user": st.integers(0, 1),
        "script_id": st.uuids(),
        "script_type": st.sampled_from(TYPES),
        "name": names,
        "description": descriptions,
        "tags": tag_lists,
        "tick": ticks,
        "deferred": st.booleans(),
    }
)


def expected_scripts(
    model: list[ScriptModel], tenant: uuid.UUID, p: ScriptFindParams
) -> list[ScriptModel]:
    def keep(s: ScriptModel) -> bool:
        needle = None if p.search is None else p.search.lower()
        return (
            s.tenant == tenant
            and not s.deleted
            and (p.type is None or s.type == p.type.value)
            and (p.enabled is None or s.enabled == p.enabled)
            and (p.tags_any is None or any(t in s.tags for t in p.tags_any))
            and (p.tags_all is None or all(t in s.tags for t in p.tags_all))
            and (needle is None or needle in s.name.lower() or needle in s.description.lower())
            and (p.created_by is None or s.created_by == p.created_by)
            and (p.updated_after is None or s.updated_at > p.updated_after)
            and (p.updated_before is None or s.updated_at < p.updated_before)
        )

    return [s for s in model if keep(s)]


def expected_executions(
    model: list[ExecutionModel], tenant: uuid.UUID, script_id: uuid.UUID, p: ExecutionFindParams
) -> list[ExecutionModel]:
    def keep(e: ExecutionModel) -> bool:
        started = e.started_at
        return (
            e.tenant == tenant
            and e.script_id == script_id
            and (p.status is None or e.status == p.status.value)
            and (p.trigger_type is None or e.trigger_type == p.trigger_type.value)
            and (p.started_after is None or (started is not None and started > p.started_after))
            and (p.started_before is None or (started is not None and started < p.started_before))
        )

    return [e for e in model if keep(e)]


def bucket(n: int) -> str:
    return str(n) if n < 3 else "3+"


def step(method: Callable[..., None]) -> Callable[..., None]:
    """Mark the machine broken while a step runs, so teardown only checks a healthy run."""

    @functools.wraps(method)
    def wrapped(self: ReadModelMachine, **kwargs: Any) -> None:
        self.healthy = False
        method(self, **kwargs)
        self.healthy = True

    return wrapped


class ReadModelMachine(RuleBasedStateMachine):
    server: ClassVar[str]
    template: ClassVar[str]

    def __init__(self) -> None:
        super().__init__()
        self.healthy = True
        self.now = START
        self._db = throwaway_db(self.server, self.template)
        self.dsn = self._db.__enter__()
        self.inline = ScriptsModule.open(
            self.dsn, install=False, snapshot_every=3, clock=lambda: self.now
        )
        # The same process configured the other way: it shares pools and the aggregate cache
        # (modules with caches of their own are like two processes: see test_two_modules.py).
        self.deferred = ScriptsModule(
            self.inline.db,
            self.inline.store,
            dataclasses.replace(self.inline.settings, inline_projections=False),
            self.inline.cache,
        )
        self.tenants = [Tenant(uuid.uuid4()) for _ in range(TENANTS)]
        self.scripts: list[ScriptModel] = []
        self.executions: list[ExecutionModel] = []
        self.used: set[uuid.UUID] = set()

    def teardown(self) -> None:
        try:
            if self.healthy:
                catch_up(self.deferred)
                assert_rebuild_reproduces_live_tables(self.inline, self.dsn)
        finally:
            self.inline.close()
            self._db.__exit__(None, None, None)

    # -- helpers ----------------------------------------------------------------------------

    def session(self, tenant: uuid.UUID, user: uuid.UUID, deferred: bool) -> TenantSession:
        return (self.deferred if deferred else self.inline).tenant(tenant, user)

    def live(self) -> list[ScriptModel]:
        return [s for s in self.scripts if not s.deleted]

    def pick_live(self, pick: int) -> ScriptModel:
        live = self.live()
        return live[pick % len(live)]

    def fresh(self, wanted: uuid.UUID) -> uuid.UUID:
        """`wanted`, or a derived id when shrinking made two draws equal."""
        while wanted in self.used:
            wanted = uuid.uuid5(wanted, "again")
        self.used.add(wanted)
        return wanted

    def advance(self, tick: int) -> None:
        self.now += timedelta(seconds=tick)

    def touch(self, s: ScriptModel) -> None:
        s.version += 1
        s.updated_at = self.now

    def user_of(self, s: ScriptModel | ExecutionModel, pick: int) -> uuid.UUID:
        tenant = next(t for t in self.tenants if t.id == s.tenant)
        return tenant.users[pick % 2]

    # -- script commands --------------------------------------------------------------------

    @initialize(
        batch=st.lists(creations, min_size=4, max_size=10),
        runs=st.lists(st.tuples(picks, executions), min_size=2, max_size=8),
    )
    @step
    def a_few_scripts_and_runs_to_begin_with(
        self, batch: list[dict[str, Any]], runs: list[tuple[int, tuple[uuid.UUID, str, bool]]]
    ) -> None:
        for args in batch:
            self.create(**args)
        for pick, run in runs:
            self.start(pick, [run], deferred=False)

    @rule(batch=st.lists(creations, min_size=1, max_size=3))
    @step
    def create_scripts(self, batch: list[dict[str, Any]]) -> None:
        for args in batch:
            self.create(**args)

    def create(
        self,
        tenant: int,
        user: int,
        script_id: uuid.UUID,
        script_type: str,
        name: str,
        description: str,
        tags: list[str],
        tick: int,
        deferred: bool,
    ) -> None:
        self.advance(tick)
        script_id = self.fresh(script_id)
        t = self.tenants[tenant]
        metadata = metadata_for(script_type, script_id)
        created = self.session(t.id, t.users[user], deferred).handle(
            c.CreateScript(
                script_id=script_id,
                name=name,
                content="a",
                type=script_type,
                metadata=metadata,
                description=description,
                tags=tags,
            )
        )
        assert created.version == 1
        self.scripts.append(
            ScriptModel(
                id=script_id,
                tenant=t.id,
                name=name.strip(),
                description=description,
                content="a",
                type=script_type,
                metadata=metadata,
                tags=normalise_tags(tags),
                created_by=t.users[user],
                created_at=self.now,
                updated_at=self.now,
            )
        )

    @precondition(lambda self: self.live())
    @rule(pick=picks, user=st.integers(0, 1), content=contents, tick=ticks, deferred=st.booleans())
    @step
    def update_content(self, pick: int, user: int, content: str, tick: int, deferred: bool) -> None:
        self.advance(tick)
        s = self.pick_live(pick)
        result = self.session(s.tenant, self.user_of(s, user), deferred).handle(
            c.UpdateScriptContent(script_id=s.id, content=content)
        )
        if content != s.content:
            s.content = content
            self.touch(s)
        assert result.version == s.version

    @precondition(lambda self: self.live())
    @rule(
        pick=picks,
        name=st.none() | names,
        description=st.none() | descriptions,
        tags=st.none() | tag_lists,
        tick=ticks,
        deferred=st.booleans(),
    )
    @step
    def change_details(
        self,
        pick: int,
        name: str | None,
        description: str | None,
        tags: list[str] | None,
        tick: int,
        deferred: bool,
    ) -> None:
        self.advance(tick)
        s = self.pick_live(pick)
        result = self.session(s.tenant, self.user_of(s, pick), deferred).handle(
            c.ChangeScriptDetails(script_id=s.id, name=name, description=description, tags=tags)
        )
        new = (
            s.name if name is None else name.strip(),
            s.description if description is None else description,
            s.tags if tags is None else normalise_tags(tags),
        )
        if new != (s.name, s.description, s.tags):
            s.name, s.description, s.tags = new
            self.touch(s)
        assert (result.version, result.name, result.tags) == (s.version, s.name, s.tags)

    @precondition(lambda self: self.live())
    @rule(pick=picks, variant=st.integers(0, 2), tick=ticks, deferred=st.booleans())
    @step
    def change_metadata(self, pick: int, variant: int, tick: int, deferred: bool) -> None:
        self.advance(tick)
        s = self.pick_live(pick)
        metadata = metadata_for(s.type, s.id, variant)
        result = self.session(s.tenant, self.user_of(s, pick), deferred).handle(
            c.ChangeScriptMetadata(script_id=s.id, metadata=metadata)
        )
        if metadata != s.metadata:
            s.metadata = metadata
            self.touch(s)
        assert result.version == s.version

    @precondition(lambda self: self.live())
    @rule(pick=picks, enable=st.booleans(), tick=ticks, deferred=st.booleans())
    @step
    def enable_or_disable(self, pick: int, enable: bool, tick: int, deferred: bool) -> None:
        self.advance(tick)
        s = self.pick_live(pick)
        command = c.EnableScript if enable else c.DisableScript
        result = self.session(s.tenant, self.user_of(s, pick), deferred).handle(
            command(script_id=s.id)
        )
        if s.enabled != enable:
            s.enabled = enable
            self.touch(s)
        assert (result.version, result.is_enabled) == (s.version, s.enabled)

    @precondition(lambda self: self.live())
    @rule(pick=picks, tick=ticks, deferred=st.booleans())
    @step
    def delete(self, pick: int, tick: int, deferred: bool) -> None:
        self.advance(tick)
        s = self.pick_live(pick)
        self.session(s.tenant, self.user_of(s, pick), deferred).handle(
            c.DeleteScript(script_id=s.id)
        )
        s.deleted = True

    # -- execution commands -----------------------------------------------------------------

    @precondition(lambda self: any(s.enabled for s in self.live()))
    @rule(
        pick=picks,
        runs=st.lists(executions, min_size=1, max_size=3),
        tick=ticks,
        deferred=st.booleans(),
    )
    @step
    def start_executions(
        self,
        pick: int,
        runs: list[tuple[uuid.UUID, str, bool]],
        tick: int,
        deferred: bool,
    ) -> None:
        self.advance(tick)
        self.start(pick, runs, deferred)

    def start(self, pick: int, runs: list[tuple[uuid.UUID, str, bool]], deferred: bool) -> None:
        enabled = [s for s in self.live() if s.enabled]
        s = enabled[pick % len(enabled)]
        user = self.user_of(s, pick)
        for wanted_id, trigger, queued in runs:
            execution_id = self.fresh(wanted_id)
            command = c.EnqueueExecution if queued else c.StartExecution
            self.session(s.tenant, user, deferred).handle(
                command(
                    script_id=s.id,
                    execution_id=execution_id,
                    trigger={
                        "type": trigger,
                        "triggered_by": user if trigger == "manual" else None,
                    },
                )
            )
            self.executions.append(
                ExecutionModel(
                    id=execution_id,
                    tenant=s.tenant,
                    script_id=s.id,
                    status="pending" if queued else "running",
                    trigger_type=trigger,
                    started_at=None if queued else self.now,
                )
            )

    def open_executions(self) -> list[ExecutionModel]:
        return [e for e in self.executions if e.status in ("pending", "running")]

    @precondition(lambda self: any(e.status == "pending" for e in self.executions))
    @rule(pick=picks, tick=ticks, deferred=st.booleans())
    @step
    def begin_execution(self, pick: int, tick: int, deferred: bool) -> None:
        self.advance(tick)
        pending = [e for e in self.executions if e.status == "pending"]
        e = pending[pick % len(pending)]
        self.session(e.tenant, self.user_of(e, pick), deferred).handle(
            c.BeginExecution(execution_id=e.id)
        )
        e.status, e.started_at = "running", self.now

    @precondition(lambda self: self.open_executions())
    @rule(
        pick=picks,
        status=st.sampled_from(["completed", "failed", "timeout"]),
        tick=ticks,
        deferred=st.booleans(),
    )
    @step
    def complete_execution(self, pick: int, status: str, tick: int, deferred: bool) -> None:
        self.advance(tick)
        running = self.open_executions()
        e = running[pick % len(running)]
        self.session(e.tenant, self.user_of(e, pick), deferred).handle(
            c.CompleteExecution(execution_id=e.id, status=status, result={"output": "done"})
        )
        e.status, e.completed_at = status, self.now
        e.duration = self.now - e.started_at if e.started_at else ZERO

    # -- reads ------------------------------------------------------------------------------

    @rule(
        tenant=st.integers(0, TENANTS - 1), queries=st.lists(script_params, min_size=1, max_size=4)
    )
    @step
    def find_and_count_agree_with_the_model(
        self, tenant: int, queries: list[dict[str, Any]]
    ) -> None:
        catch_up(self.deferred)
        t = self.tenants[tenant]
        session = self.inline.tenant(t.id, t.users[0])
        for raw in queries:
            if "created_by" in raw:
                other = self.tenants[(tenant + 1) % TENANTS]
                raw = {**raw, "created_by": (t.users + other.users[:1])[raw["created_by"]]}
            p = ScriptFindParams(**raw)
            matching = expected_scripts(self.scripts, t.id, p)
            want = ordered(matching, p.sort)[p.offset : p.offset + p.limit]
            got = session.scripts.find(p)
            event("scripts expected", bucket(len(want)))
            assert [s.id for s in got] == [s.id for s in want], p
            assert session.scripts.count(p) == len(matching), p
            for row, model in zip(got, want, strict=True):
                assert (row.name, row.description, row.version, row.updated_at) == (
                    model.name,
                    model.description,
                    model.version,
                    model.updated_at,
                )
                assert (row.tags, row.is_enabled, row.created_by) == (
                    model.tags,
                    model.enabled,
                    model.created_by,
                )

    @rule(
        pick=picks,
        other_tenant=st.sampled_from([False, False, False, True]),
        queries=st.lists(execution_params, min_size=1, max_size=4),
    )
    @step
    def find_for_script_agrees_with_the_model(
        self, pick: int, other_tenant: bool, queries: list[dict[str, Any]]
    ) -> None:
        catch_up(self.deferred)
        # Any script, deleted ones included, weighted towards those with many executions;
        # asked as its own tenant, or as another one (which must see nothing).
        candidates = [(e.script_id, e.tenant) for e in self.executions]
        candidates += [(s.id, s.tenant) for s in self.scripts]
        script_id, owner = candidates[pick % len(candidates)]
        index = next(i for i, t in enumerate(self.tenants) if t.id == owner)
        t = self.tenants[(index + other_tenant) % TENANTS]
        session = self.inline.tenant(t.id, t.users[0])
        for raw in queries:
            p = ExecutionFindParams(**raw)
            matching = expected_executions(self.executions, t.id, script_id, p)
            want = ordered(matching, p.sort)[p.offset : p.offset + p.limit]
            got = session.executions.find_for_script(script_id, p)
            event("executions expected", bucket(len(want)))
            assert [e.id for e in got] == [e.id for e in want], p
            for row, model in zip(got, want, strict=True):
                assert (row.status.value, row.started_at, row.completed_at, row.duration) == (
                    model.status,
                    model.started_at,
                    model.completed_at,
                    model.duration,
                )

    @rule()
    @step
    def rebuild_midway_changes_no_row(self) -> None:
        catch_up(self.deferred)
        before = dump_read_model(self.dsn)
        self.inline.rebuild_projections()
        assert dump_read_model(self.dsn) == before


def test_find_count_and_rebuild_agree_with_a_model_of_random_commands_across_tenants(
    pg_server: str, pg_template: str
) -> None:
    ReadModelMachine.server = pg_server
    ReadModelMachine.template = pg_template
    run_state_machine_as_test(
        ReadModelMachine,
        settings=settings(
            max_examples=30,
            stateful_step_count=25,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        ),
    )

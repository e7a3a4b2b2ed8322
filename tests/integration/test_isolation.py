"""Tenant isolation, enforced by PostgreSQL itself and visible through the API (DESIGN §4, §6).

The raw checks discover the tenant tables from information_schema, so a table added later is
checked without touching this file (the seed check fails loudly if it has no rows to check).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from psycopg import sql

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import Execution, Script, ScriptType, VersionRetentionPolicy
from scripts_es.errors import InvalidInput, NotFound, ScriptsError
from scripts_es.queries import ScriptFindParams
from tests.support import pg
from tests.support.commands import create_command
from tests.support.fixtures import open_module
from tests.support.horizon import holding_the_horizon
from tests.support.raw import raw, table

APP_ROLE = "scripts_es_app"


@dataclass
class TenantData:
    session: TenantSession
    scripts: list[Script] = field(default_factory=list)
    executions: list[Execution] = field(default_factory=list)

    @property
    def id(self) -> UUID:
        return self.session.session.tenant_id


@dataclass
class Seeded:
    dsn: str
    module: ScriptsModule
    a: TenantData
    b: TenantData


def seed(t: TenantSession) -> TenantData:
    """Rows for one tenant in every tenant table: scripts of all types (an http route), a long
    history (snapshots), a pruned history (audit), executions (one removed by retention),
    commands with a command_id."""
    data = TenantData(t)
    for type_ in ScriptType:
        tags = ["shared", type_.value]
        data.scripts.append(t.handle(create_command(type_, command_id=uuid4(), tags=tags)))
    long = data.scripts[0]
    for i in range(12):
        long = t.handle(c.UpdateScriptContent(script_id=long.id, content=f"v{i}"))
    data.scripts[0] = long
    t.scripts.prune_version_history(long.id, VersionRetentionPolicy(max_versions=5))
    http = data.scripts[1]
    running = t.handle(c.StartExecution(script_id=http.id, trigger={"type": "api"}))
    done = t.handle(c.StartExecution(script_id=http.id, trigger={"type": "api"}, input={"k": 1}))
    done = t.handle(c.CompleteExecution(execution_id=done.id, status="completed"))
    queued = t.handle(c.EnqueueExecution(script_id=long.id, trigger={"type": "cron"}))
    data.executions = [running, done, queued]
    for _ in range(2):  # the older one is removed by retention: a tombstone keeps its id
        old = t.handle(c.StartExecution(script_id=long.id, trigger={"type": "api"}))
        t.handle(c.CompleteExecution(execution_id=old.id, status="failed"))
    assert t.executions.prune(0, keep_last_per_script=1) == 1
    doomed = t.handle(create_command(ScriptType.HTTP, metadata={"path": "/gone"}))
    t.handle(c.DeleteScript(script_id=doomed.id))
    return data


@pytest.fixture(scope="module")
def seeded(pg_server: str, pg_template: str) -> Iterator[Seeded]:
    """One database shared by this file's tests: two tenants with rows in every tenant table."""
    with pg.throwaway_db(pg_server, pg_template) as dsn, open_module(dsn) as module:
        a = seed(module.tenant(uuid4(), uuid4()))
        b = seed(module.tenant(uuid4(), uuid4()))
        # Feed positions for all of it (another test's transaction may hold the horizon).
        deadline = time.monotonic() + 60
        while not all(module.feed(data.id).read(0, 1) for data in (a, b)):
            assert time.monotonic() < deadline, "the seeded events got no feed positions"
            time.sleep(0.05)
        with holding_the_horizon(dsn):  # pruned before the feed reached them: feed_removed
            for data in (a, b):
                t = data.session
                pruned = t.handle(create_command(ScriptType.ONE_OFF))
                pruned = t.handle(c.UpdateScriptContent(script_id=pruned.id, content="2"))
                t.scripts.prune_version_history(pruned.id, VersionRetentionPolicy(max_versions=1))
                data.scripts.append(t.scripts.find_by_id(pruned.id))
        yield Seeded(dsn, module, a, b)


@pytest.fixture(scope="module")
def tables(seeded: Seeded) -> list[str]:
    with raw(seeded.dsn) as conn:
        return conn.tenant_tables()


def count(conn: psycopg.Connection[Any], name: str, where: str = "", *args: Any) -> int:
    query = sql.SQL("SELECT count(*) FROM {} ").format(table(name)) + sql.SQL(where)  # type: ignore[arg-type]
    return int(conn.execute(query, args).fetchone()[0])


def as_app(conn: psycopg.Connection[Any], tenant_id: UUID | str | None) -> None:
    """Inside the current transaction: become the app role, scoped to `tenant_id` (or none)."""
    conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
    if tenant_id is not None:
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))


# -- the database enforces it ------------------------------------------------------------------


def test_the_tenant_tables_are_discovered_and_seeded_for_both_tenants(
    seeded: Seeded, tables: list[str]
) -> None:
    expected = {"events", "snapshots", "commands", "script_routes", "scripts", "executions"}
    assert expected <= set(tables)
    with raw(seeded.dsn) as conn:
        for name in tables:
            for tenant in (seeded.a, seeded.b):
                assert count(conn, name, "WHERE tenant_id = %s", tenant.id) > 0, (
                    f"scripts_es.{name} has no rows of a seeded tenant: extend seed() so the "
                    "isolation checks below have something to hide"
                )


def test_every_tenant_table_forces_row_level_security(seeded: Seeded, tables: list[str]) -> None:
    with raw(seeded.dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, c.relrowsecurity, c.relforcerowsecurity"
            " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE n.nspname = 'scripts_es' AND c.relname = ANY(%s)",
            (tables,),
        ).fetchall()
        policies = conn.execute(
            "SELECT tablename FROM pg_policies WHERE schemaname = 'scripts_es' AND %s = ANY(roles)",
            (APP_ROLE,),
        ).fetchall()
        role = conn.execute(
            "SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", (APP_ROLE,)
        ).fetchone()
        owners = conn.execute(
            "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = 'scripts_es'"
        ).fetchall()
    assert sorted(r[0] for r in rows) == sorted(tables)
    assert [r for r in rows if not (r[1] and r[2])] == []
    assert {p[0] for p in policies} >= set(tables)
    assert role == (False, False)
    assert APP_ROLE not in {o[0] for o in owners}


def test_the_app_role_sees_no_row_of_another_tenant_in_any_table(
    seeded: Seeded, tables: list[str]
) -> None:
    a, b = seeded.a.id, seeded.b.id
    with raw(seeded.dsn) as su:
        own = {name: count(su, name, "WHERE tenant_id = %s", a) for name in tables}
    with psycopg.connect(seeded.dsn) as conn:
        for name in tables:
            with conn.transaction():
                as_app(conn, a)
                assert count(conn, name, "WHERE tenant_id = %s", b) == 0, name
                assert count(conn, name, "WHERE tenant_id <> %s", a) == 0, name
                assert count(conn, name) == own[name], name


def test_the_app_role_sees_nothing_without_a_tenant(seeded: Seeded, tables: list[str]) -> None:
    with psycopg.connect(seeded.dsn) as conn:
        for name in tables:
            for setting in (None, ""):
                with conn.transaction():
                    as_app(conn, None)
                    if setting is not None:
                        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (setting,))
                    assert count(conn, name) == 0, name


def test_the_tenant_setting_does_not_outlive_its_transaction(
    seeded: Seeded, tables: list[str]
) -> None:
    with psycopg.connect(seeded.dsn) as conn:
        with conn.transaction():
            as_app(conn, seeded.a.id)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(APP_ROLE)))
        for name in tables:
            assert count(conn, name) == 0, name
        conn.rollback()


def _row_of(su: psycopg.Connection[Any], name: str, tenant: UUID) -> list[tuple[str, str, Any]]:
    """One of `tenant`'s rows of `name` as (column, type, text value), writable columns only."""
    columns = su.execute(
        "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute"
        " WHERE attrelid = %s::regclass AND attnum > 0 AND NOT attisdropped"
        "   AND attgenerated = '' AND attidentity <> 'a'"
        " ORDER BY attnum",
        (f"scripts_es.{name}",),
    ).fetchall()
    select = sql.SQL("SELECT {} FROM {} WHERE tenant_id = %s LIMIT 1").format(
        sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(col)) for col, _ in columns),
        table(name),
    )
    values = su.execute(select, (tenant,)).fetchone()
    assert values is not None, name
    return [(col, type_, value) for (col, type_), value in zip(columns, values, strict=True)]


def _insert(
    row: list[tuple[str, str, Any]], name: str, tenant: UUID
) -> tuple[sql.Composed, list[Any]]:
    """INSERT `row` into `name`, re-labelled as `tenant`'s (values cast from text)."""
    query = sql.SQL("INSERT INTO {} ({}) VALUES ({})").format(
        table(name),
        sql.SQL(", ").join(sql.Identifier(col) for col, _, _ in row),
        sql.SQL(", ").join(sql.SQL("%s::" + type_) for _, type_, _ in row),  # type: ignore[arg-type]
    )
    return query, [str(tenant) if col == "tenant_id" else value for col, _, value in row]


def test_the_app_role_cannot_write_rows_of_another_tenant(
    seeded: Seeded, tables: list[str]
) -> None:
    a, b = seeded.a.id, seeded.b.id
    with raw(seeded.dsn) as su:
        before = {name: count(su, name, "WHERE tenant_id = %s", b) for name in tables}
        rows = {name: _row_of(su, name, a) for name in tables}
    rls = pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security")
    with psycopg.connect(seeded.dsn) as conn:
        for name in tables:
            # A row labelled with tenant B, written while scoped to tenant A.
            with rls, conn.transaction():
                as_app(conn, a)
                conn.execute(*_insert(rows[name], name, b))
            # Moving an own row to tenant B.
            with rls, conn.transaction():
                as_app(conn, a)
                conn.execute(
                    sql.SQL("UPDATE {} SET tenant_id = %s WHERE tenant_id = %s").format(
                        table(name)
                    ),
                    (b, a),
                )
            # Without a tenant, not even a row of one's own can be written.
            with rls, conn.transaction():
                as_app(conn, None)
                conn.execute(*_insert(rows[name], name, a))
            # Tenant B's rows cannot be updated or deleted: they are not there.
            with conn.transaction():
                as_app(conn, a)
                touched = conn.execute(
                    sql.SQL("UPDATE {} SET tenant_id = tenant_id WHERE tenant_id = %s").format(
                        table(name)
                    ),
                    (b,),
                ).rowcount
                deleted = conn.execute(
                    sql.SQL("DELETE FROM {} WHERE tenant_id = %s").format(table(name)), (b,)
                ).rowcount
                assert (touched, deleted) == (0, 0), name
                raise psycopg.Rollback()
    with raw(seeded.dsn) as su:
        assert {name: count(su, name, "WHERE tenant_id = %s", b) for name in tables} == before


# -- the API never leaks ---------------------------------------------------------------------


def _same_error(call: Callable[[UUID], Any], foreign: UUID) -> tuple[type[BaseException], str]:
    """Call with another tenant's id and with a never-used id: the errors must be identical."""
    missing = uuid4()
    errors = []
    for some_id in (foreign, missing):
        with pytest.raises(ScriptsError) as info:
            call(some_id)
        errors.append((type(info.value), str(info.value).replace(str(some_id), "<id>")))
    assert errors[0] == errors[1]
    return errors[0]


READS: list[tuple[str, Callable[[TenantSession, UUID], Any]]] = [
    ("scripts.find_by_id", lambda t, i: t.scripts.find_by_id(i)),
    ("scripts.get_version_history", lambda t, i: t.scripts.get_version_history(i)),
    ("scripts.get_version", lambda t, i: t.scripts.get_version(i, 1)),
    ("scripts.delete", lambda t, i: t.scripts.delete(i)),
]
SCRIPT_COMMANDS: list[tuple[str, Callable[[UUID], c.Command]]] = [
    ("UpdateScriptContent", lambda i: c.UpdateScriptContent(script_id=i, content="pwned")),
    ("ChangeScriptMetadata", lambda i: c.ChangeScriptMetadata(script_id=i, metadata={})),
    ("ChangeScriptDetails", lambda i: c.ChangeScriptDetails(script_id=i, name="pwned")),
    ("EnableScript", lambda i: c.EnableScript(script_id=i)),
    ("DisableScript", lambda i: c.DisableScript(script_id=i)),
    ("DeleteScript", lambda i: c.DeleteScript(script_id=i)),
    ("StartExecution", lambda i: c.StartExecution(script_id=i, trigger={"type": "api"})),
    ("EnqueueExecution", lambda i: c.EnqueueExecution(script_id=i, trigger={"type": "api"})),
    ("PruneScriptHistory", lambda i: c.PruneScriptHistory(script_id=i, max_versions=1)),
]
EXECUTION_COMMANDS: list[tuple[str, Callable[[UUID], c.Command]]] = [
    ("BeginExecution", lambda i: c.BeginExecution(execution_id=i)),
    ("CompleteExecution", lambda i: c.CompleteExecution(execution_id=i, status="failed")),
]


def _b_unchanged(seeded: Seeded) -> None:
    b = seeded.b
    for script in b.scripts:
        assert b.session.scripts.find_by_id(script.id) == script
    for execution in b.executions:
        assert b.session.executions.find_by_id(execution.id) == execution


@pytest.mark.parametrize(("name", "read"), READS, ids=[n for n, _ in READS])
def test_another_tenants_script_is_not_found_like_a_missing_one_for_every_read(
    seeded: Seeded, name: str, read: Callable[[TenantSession, UUID], Any]
) -> None:
    a = seeded.a.session
    for script in seeded.b.scripts:
        kind, _ = _same_error(lambda i: read(a, i), script.id)
        assert kind is NotFound
    _b_unchanged(seeded)


def test_another_tenants_execution_is_not_found_like_a_missing_one(seeded: Seeded) -> None:
    a = seeded.a.session
    for execution in seeded.b.executions:
        assert _same_error(a.executions.find_by_id, execution.id)[0] is NotFound
    for script in seeded.b.scripts:
        assert a.executions.find_for_script(script.id) == []


@pytest.mark.parametrize(("name", "build"), SCRIPT_COMMANDS, ids=[n for n, _ in SCRIPT_COMMANDS])
def test_every_command_on_another_tenants_script_is_not_found_like_a_missing_one(
    seeded: Seeded, name: str, build: Callable[[UUID], c.Command]
) -> None:
    a = seeded.a.session
    for script in seeded.b.scripts:
        kind, _ = _same_error(lambda i: a.handle(build(i)), script.id)
        assert kind is NotFound
    _b_unchanged(seeded)


@pytest.mark.parametrize(
    ("name", "build"), EXECUTION_COMMANDS, ids=[n for n, _ in EXECUTION_COMMANDS]
)
def test_every_command_on_another_tenants_execution_is_not_found_like_a_missing_one(
    seeded: Seeded, name: str, build: Callable[[UUID], c.Command]
) -> None:
    a = seeded.a.session
    for execution in seeded.b.executions:
        kind, _ = _same_error(lambda i: a.handle(build(i)), execution.id)
        assert kind is NotFound
    _b_unchanged(seeded)


def test_updating_another_tenants_aggregate_through_the_repository_is_not_found(
    seeded: Seeded,
) -> None:
    a, b = seeded.a.session, seeded.b
    script = b.scripts[2]
    with pytest.raises(NotFound):
        a.scripts.update(script.update_content("pwned", a.session.user_id))
    running = b.executions[0]
    with pytest.raises(NotFound):
        a.executions.update(running.complete("failed"))
    _b_unchanged(seeded)


def test_creating_a_script_or_execution_for_another_tenant_is_invalid_input(
    seeded: Seeded,
) -> None:
    a, b = seeded.a.session, seeded.b
    foreign = Script.create(
        tenant_id=b.id,
        created_by=a.session.user_id,
        name="planted",
        content="x",
        type="one_off",
        metadata={},
    )
    with pytest.raises(InvalidInput) as error:
        a.scripts.create(foreign)
    assert error.value.field == "tenant_id"
    planted = Execution.start(script=b.scripts[2], trigger={"type": "api"})
    with pytest.raises(InvalidInput):
        a.executions.create(planted)
    with pytest.raises(NotFound):
        b.session.scripts.find_by_id(foreign.id)
    with pytest.raises(NotFound):
        b.session.executions.find_by_id(planted.id)


def test_a_script_id_used_by_another_tenant_does_not_collide(seeded: Seeded) -> None:
    a, b = seeded.a.session, seeded.b
    taken = b.scripts[3].id
    mine = a.handle(create_command(ScriptType.ONE_OFF, name="same id", script_id=taken))
    assert a.scripts.find_by_id(taken) == mine
    a.handle(c.DeleteScript(script_id=taken))
    _b_unchanged(seeded)


def test_find_and_count_only_ever_see_the_own_tenant(seeded: Seeded) -> None:
    for mine, theirs in ((seeded.a, seeded.b), (seeded.b, seeded.a)):
        t = mine.session
        everything = ScriptFindParams(limit=1000)
        found = t.scripts.find(everything)
        assert {s.tenant_id for s in found} == {mine.id}
        assert {s.id for s in found}.isdisjoint({s.id for s in theirs.scripts})
        assert t.scripts.count() == len(found)
        for type_ in ScriptType:
            of_type = ScriptFindParams(type=type_)
            assert t.scripts.count(of_type) == sum(s.type is type_ for s in found) >= 1


# -- property: interleaved creates never leak -----------------------------------------------


@settings(max_examples=20)
@given(
    plan=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(list(ScriptType)), st.booleans()),
        min_size=1,
        max_size=10,
    )
)
def test_interleaved_creates_of_several_tenants_never_leak_into_each_other(
    seeded: Seeded, plan: list[tuple[int, ScriptType, bool]]
) -> None:
    module = seeded.module
    sessions = [module.tenant(uuid4(), uuid4()) for _ in range(3)]
    created: list[list[Script]] = [[], [], []]
    for who, type_, via_handle in plan:
        t = sessions[who]
        command = create_command(type_, name=f"t{who} {type_.value}")
        if type_ is ScriptType.HTTP:  # every tenant claims the same paths
            path = f"/p{len(created[who])}"
            command = create_command(type_, name=command.name, metadata={"path": path})
        if via_handle:
            created[who].append(t.handle(command))
        else:
            created[who].append(
                t.scripts.create(
                    Script.create(
                        tenant_id=t.session.tenant_id,
                        created_by=t.session.user_id,
                        name=command.name,
                        content=command.content,
                        type=command.type,
                        metadata=command.metadata,
                    )
                )
            )
    for who, t in enumerate(sessions):
        own = {s.id for s in created[who]}
        others = {s.id for i, group in enumerate(created) if i != who for s in group}
        found = t.scripts.find(ScriptFindParams(limit=1000))
        assert {s.id for s in found} == own
        assert t.scripts.count() == len(own)
        for type_ in ScriptType:
            assert t.scripts.count(ScriptFindParams(type=type_)) == sum(
                s.type is type_ for s in created[who]
            )
        for other in others:
            with pytest.raises(NotFound):
                t.scripts.find_by_id(other)
        for script in created[who]:
            assert t.scripts.find_by_id(script.id) == script

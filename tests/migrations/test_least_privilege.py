"""Least privilege (DESIGN §12): a host login that is a member of scripts_es_app only.

It opens the module without installing and does all tenant work; it cannot become the
maintenance role, switch row-level security off, change the schema or read other tenants'
rows without naming them; maintenance through it fails with a clear PermissionDenied.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ScriptType, VersionRetentionPolicy
from scripts_es.errors import PermissionDenied
from scripts_es.queries import ScriptFindParams
from tests.support.commands import create_command


@pytest.fixture
def app_login(dsn: str) -> Iterator[str]:
    """The DSN of a fresh login role that is a member of scripts_es_app and nothing else."""
    name = f"host_app_{uuid.uuid4().hex[:10]}"
    password = uuid.uuid4().hex
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        conn.execute(sql.SQL("GRANT scripts_es_app TO {}").format(sql.Identifier(name)))
    params = conninfo_to_dict(dsn)
    params.update(user=name, password=password)
    try:
        yield make_conninfo(**params)  # type: ignore[arg-type]
    finally:
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_an_app_only_login_opens_the_module_and_does_all_tenant_work(app_login: str) -> None:
    with ScriptsModule.open(app_login, install=False) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        script = t.handle(create_command(ScriptType.HTTP, command_id=uuid.uuid4(), tags=["a"]))
        for n in range(4):
            script = t.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{n}"))
        t.handle(c.DisableScript(script_id=script.id))
        t.handle(c.EnableScript(script_id=script.id))
        run = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
        t.handle(c.CompleteExecution(execution_id=run.id, status="completed"))
        assert t.scripts.count(ScriptFindParams(tags_any=("a",))) == 1
        assert t.scripts.get_version(script.id, 2).content == "v0"
        pruned = t.handle(c.PruneScriptHistory(script_id=script.id, max_versions=2))
        assert pruned.removed == 5
        assert [v.version for v in t.scripts.get_version_history(script.id)] == [6, 7]
        assert t.executions.prune(0) == 1
        t.handle(c.DeleteScript(script_id=script.id))
        assert t.scripts.count() == 0


def test_install_true_is_harmless_for_an_app_login_when_the_schema_is_current(
    app_login: str,
) -> None:
    with ScriptsModule.open(app_login, install=True) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        assert t.handle(create_command()).version == 1


def test_maintenance_through_an_app_only_login_fails_clearly(app_login: str) -> None:
    with ScriptsModule.open(app_login, install=False) as module:
        for work in (
            module.rebuild_projections,
            module.verify_projections,
            module.projection_status,
            lambda: module.run_projections(once=True),
            lambda: module.prune_scripts(VersionRetentionPolicy(max_versions=1)),
            lambda: module.prune_executions(1),
        ):
            with pytest.raises(PermissionDenied, match="maintenance_dsn"):
                work()


def test_the_host_app_login_plus_an_operator_maintenance_dsn_does_both(
    app_login: str, dsn: str
) -> None:
    with ScriptsModule.open(app_login, install=False, maintenance_dsn=dsn) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        t.handle(create_command())
        module.rebuild_projections()
        assert module.verify_projections().ok


ESCALATIONS = [
    "SET ROLE scripts_es_maint",
    "SET ROLE postgres",
    "GRANT scripts_es_maint TO CURRENT_USER",
    "ALTER TABLE scripts_es.events DISABLE ROW LEVEL SECURITY",
    "ALTER TABLE scripts_es.events NO FORCE ROW LEVEL SECURITY",
    "DROP POLICY tenant_isolation ON scripts_es.scripts",
    "CREATE TABLE scripts_es.mine (id int)",
    "CREATE POLICY mine ON scripts_es.events TO scripts_es_app USING (true)",
    "UPDATE scripts_es.schema_version SET version = version",
    "TRUNCATE scripts_es.events",
    "CREATE OR REPLACE FUNCTION scripts_es.current_tenant() RETURNS uuid LANGUAGE sql "
    "AS $$ SELECT NULL::uuid $$",
]


@pytest.mark.parametrize("statement", ESCALATIONS)
def test_an_app_only_login_cannot_escalate(app_login: str, dsn: str, statement: str) -> None:
    with psycopg.connect(app_login) as conn, pytest.raises(psycopg.errors.InsufficientPrivilege):
        conn.execute(statement)  # type: ignore[arg-type]


def test_an_app_only_login_sees_no_tenant_rows_without_naming_the_tenant(
    app_login: str, dsn: str
) -> None:
    with ScriptsModule.open(dsn, install=False) as module:
        module.tenant(uuid.uuid4(), uuid.uuid4()).handle(create_command())
    with psycopg.connect(app_login) as conn:
        for table in ("events", "scripts", "commands", "snapshots", "script_versions"):
            query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier("scripts_es", table))
            assert conn.execute(query).fetchone() == (0,), table


def test_an_app_only_login_advances_and_reads_its_tenant_feed_and_nothing_else(
    app_login: str, dsn: str
) -> None:
    with ScriptsModule.open(app_login, install=False) as module:
        mine, other = uuid.uuid4(), uuid.uuid4()
        for tenant_id in (other, mine):
            module.tenant(tenant_id, uuid.uuid4()).handle(create_command(ScriptType.ONE_OFF))
        deadline = time.monotonic() + 60  # other tests' transactions may hold the horizon
        while not (events := module.feed(mine).read(0, 10)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [e.tenant_id for e in events] == [mine]
        assert module.feed(mine).last_position() == events[0].position
        with pytest.raises(PermissionDenied, match="scripts_es_maint"):
            module.feed().read(0, 10)  # every tenant's feed is maintenance

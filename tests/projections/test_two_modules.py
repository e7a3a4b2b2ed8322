"""Two modules on one database (two processes of a host app, or an app and the runner's host):
each one's writes reach the other's reads and commands."""

from __future__ import annotations

import uuid

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from tests.projections.support import assert_rebuild_reproduces_live_tables


def test_content_set_back_by_one_module_after_another_changed_it_is_stored(
    dsn: str, one_tenant_twice: tuple[TenantSession, TenantSession]
) -> None:
    a, b = one_tenant_twice
    script = a.handle(c.CreateScript(name="s", content="one", type="one_off"))
    b.handle(c.UpdateScriptContent(script_id=script.id, content="two"))
    back = a.handle(c.UpdateScriptContent(script_id=script.id, content="one"))
    assert (back.content, back.version) == ("one", 3)
    assert a.scripts.find_by_id(script.id).content == "one"


def test_enabling_a_script_another_module_disabled_enables_it(
    dsn: str, one_tenant_twice: tuple[TenantSession, TenantSession]
) -> None:
    a, b = one_tenant_twice
    script = a.handle(c.CreateScript(name="s", content="x", type="one_off"))
    b.handle(c.DisableScript(script_id=script.id))
    a.handle(c.EnableScript(script_id=script.id))
    assert a.scripts.find_by_id(script.id).is_enabled
    assert [s.is_enabled for s in a.scripts.find()] == [True]


def test_without_the_aggregate_cache_both_modules_see_each_others_changes(dsn: str) -> None:
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    with (
        ScriptsModule.open(dsn, install=False, cache_size=0) as ma,
        ScriptsModule.open(dsn, install=False, cache_size=0) as mb,
    ):
        a, b = ma.tenant(tenant_id, user_id), mb.tenant(tenant_id, user_id)
        script = a.handle(c.CreateScript(name="s", content="one", type="one_off"))
        b.handle(c.UpdateScriptContent(script_id=script.id, content="two"))
        assert a.handle(c.UpdateScriptContent(script_id=script.id, content="one")).version == 3
        b.handle(c.DisableScript(script_id=script.id))
        assert a.handle(c.EnableScript(script_id=script.id)).is_enabled
        assert [s.version for s in b.scripts.find()] == [5]
        assert_rebuild_reproduces_live_tables(ma, dsn)


def test_a_stale_cached_state_that_does_change_something_is_retried_fresh(
    dsn: str,
    two_modules: tuple[ScriptsModule, ScriptsModule],
    one_tenant_twice: tuple[TenantSession, TenantSession],
) -> None:
    a, b = one_tenant_twice
    script = a.handle(c.CreateScript(name="s", content="one", type="one_off"))
    b.handle(c.UpdateScriptContent(script_id=script.id, content="two"))
    three = a.handle(c.UpdateScriptContent(script_id=script.id, content="three"))
    assert (three.content, three.version) == ("three", 3)
    assert [s.content for s in b.scripts.find()] == ["three"]
    assert_rebuild_reproduces_live_tables(two_modules[0], dsn)

"""HTTP routes are unique per tenant among live http scripts, enforced atomically (DESIGN §3)."""

from __future__ import annotations

from uuid import UUID, uuid4

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import HTTPMetadata, Script, ScriptType
from scripts_es.errors import RouteConflict
from tests.integration.races import errors_of, race, values_of
from tests.support.commands import create_command
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.raw import row_counts


def http(path: str = "/hooks/orders", method: str = "POST", **fields: object) -> c.CreateScript:
    return create_command(ScriptType.HTTP, metadata={"path": path, "method": method}, **fields)


def test_two_live_http_scripts_of_one_tenant_cannot_share_a_route(
    tenant: TenantSession, dsn: str
) -> None:
    first = tenant.handle(http("/a", "POST"))
    before = row_counts(dsn)
    with pytest.raises(RouteConflict) as error:
        tenant.handle(http("/a", "post", name="second"))
    assert (error.value.method, error.value.path) == ("POST", "/a")
    assert row_counts(dsn) == before
    assert tenant.scripts.find() == [first]


def test_a_route_conflict_through_the_repository_writes_nothing(
    tenant: TenantSession, dsn: str, tenant_id: UUID, user_id: UUID
) -> None:
    tenant.handle(http("/a", "GET"))
    before = row_counts(dsn)
    duplicate = Script.create(
        tenant_id=tenant_id,
        created_by=user_id,
        name="dup",
        content="x",
        type=ScriptType.HTTP,
        metadata=HTTPMetadata(path="/a", method="get"),
    )
    with pytest.raises(RouteConflict):
        tenant.scripts.create(duplicate)
    assert row_counts(dsn) == before


def test_the_same_path_with_another_method_or_another_path_is_a_different_route(
    tenant: TenantSession,
) -> None:
    tenant.handle(http("/a", "GET"))
    tenant.handle(http("/a", "POST"))
    tenant.handle(http("/a/", "GET"))
    tenant.handle(http("/A", "GET"))
    assert tenant.scripts.count() == 4


def test_non_http_scripts_take_no_route(tenant: TenantSession) -> None:
    for type_ in (ScriptType.CRON, ScriptType.ONE_OFF, ScriptType.EMBEDDED):
        tenant.handle(create_command(type_))
        tenant.handle(create_command(type_))
    tenant.handle(http("/a"))
    assert tenant.scripts.count() == 7


def test_different_tenants_may_share_a_route(module: ScriptsModule, user_id: UUID) -> None:
    a = module.tenant(uuid4(), user_id).handle(http("/shared", "PUT"))
    b = module.tenant(uuid4(), user_id).handle(http("/shared", "PUT"))
    assert a.metadata == b.metadata and a.id != b.id


def test_a_disabled_http_script_keeps_its_route(tenant: TenantSession) -> None:
    script = tenant.handle(http("/a"))
    tenant.handle(c.DisableScript(script_id=script.id))
    with pytest.raises(RouteConflict):
        tenant.handle(http("/a"))


def test_deleting_a_script_frees_its_route(tenant: TenantSession) -> None:
    first = tenant.handle(http("/a"))
    tenant.scripts.delete(first.id)
    second = tenant.handle(http("/a"))
    tenant.handle(c.DeleteScript(script_id=second.id))
    third = tenant.handle(http("/a"))
    assert tenant.scripts.find() == [third]


def test_changing_the_route_frees_the_old_one_and_claims_the_new_one(
    tenant: TenantSession, user_id: UUID
) -> None:
    script = tenant.handle(http("/old", "GET"))
    moved = tenant.handle(
        c.ChangeScriptMetadata(script_id=script.id, metadata={"path": "/new", "method": "GET"})
    )
    tenant.handle(http("/old", "GET", name="takes the old route"))
    with pytest.raises(RouteConflict):
        tenant.handle(http("/new", "GET"))
    # The same through the repository: changing only the method frees (GET, /new).
    tenant.scripts.update(moved.change_metadata({"path": "/new", "method": "DELETE"}, user_id))
    tenant.handle(http("/new", "GET", name="takes GET /new"))
    assert tenant.scripts.count() == 3


def test_an_http_script_can_change_its_method_and_keep_its_path(tenant: TenantSession) -> None:
    script = tenant.handle(http("/a", "GET"))
    moved = tenant.handle(
        c.ChangeScriptMetadata(script_id=script.id, metadata={"path": "/a", "method": "PUT"})
    )
    assert moved.metadata == HTTPMetadata(path="/a", method="PUT")
    assert tenant.scripts.find_by_id(script.id) == moved
    tenant.handle(http("/a", "GET", name="GET /a is free again"))


def test_changing_the_route_to_a_taken_one_is_a_conflict_and_writes_nothing(
    tenant: TenantSession, dsn: str
) -> None:
    tenant.handle(http("/taken"))
    script = tenant.handle(http("/mine"))
    before = row_counts(dsn)
    with pytest.raises(RouteConflict):
        tenant.handle(
            c.ChangeScriptMetadata(
                script_id=script.id, metadata={"path": "/taken", "method": "post"}
            )
        )
    assert row_counts(dsn) == before
    assert tenant.scripts.find_by_id(script.id) == script
    # Its own route is still held.
    with pytest.raises(RouteConflict):
        tenant.handle(http("/mine"))


def test_a_script_may_keep_its_route_while_other_details_change(tenant: TenantSession) -> None:
    script = tenant.handle(http("/a"))
    tenant.handle(c.UpdateScriptContent(script_id=script.id, content="new"))
    tenant.handle(c.ChangeScriptDetails(script_id=script.id, name="renamed"))
    tenant.handle(c.DisableScript(script_id=script.id))
    tenant.handle(c.EnableScript(script_id=script.id))
    with pytest.raises(RouteConflict):
        tenant.handle(http("/a"))


@pytest.mark.parametrize("via", ["handle", "repository"])
def test_two_threads_racing_for_one_route_get_exactly_one_script(
    module: ScriptsModule, tenant_id: UUID, via: str
) -> None:
    for round_ in range(3):
        path = f"/race/{round_}"

        def create(i: int, path: str = path) -> Script:
            t = module.tenant(tenant_id, uuid4())
            if via == "handle":
                return t.handle(http(path, name=f"racer {i}"))  # type: ignore[no-any-return]
            return t.scripts.create(
                Script.create(
                    tenant_id=tenant_id,
                    created_by=t.session.user_id,
                    name=f"racer {i}",
                    content="x",
                    type="http",
                    metadata={"path": path, "method": "POST"},
                )
            )

        outcomes = race(2, create)
        assert len(values_of(outcomes)) == 1, outcomes
        assert [type(e) for e in errors_of(outcomes)] == [RouteConflict]
    scripts = module.tenant(tenant_id, uuid4()).scripts
    assert scripts.count() == 3
    assert sorted(s.metadata.path for s in scripts.find()) == [f"/race/{i}" for i in range(3)]  # type: ignore[union-attr]


def test_many_threads_racing_for_one_route_in_two_tenants_get_one_script_each(
    module: ScriptsModule,
) -> None:
    tenants = [uuid4(), uuid4()]

    def create(i: int) -> Script:
        return module.tenant(tenants[i % 2], uuid4()).handle(http("/hot"))  # type: ignore[no-any-return]

    outcomes = race(6, create)
    winners = values_of(outcomes)
    assert sorted(str(s.tenant_id) for s in winners) == sorted(map(str, tenants))
    assert all(isinstance(e, RouteConflict) for e in errors_of(outcomes))
    for tenant_id in tenants:
        assert module.tenant(tenant_id, uuid4()).scripts.count() == 1


def test_a_route_conflict_through_handle_is_a_route_conflict_without_inline_projection(
    dsn: str, tenant_id: UUID, user_id: UUID
) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as runner_mode:
        t = runner_mode.tenant(tenant_id, user_id)
        t.handle(http("/a"))
        with pytest.raises(RouteConflict):
            t.handle(http("/a"))

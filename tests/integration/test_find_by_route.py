"""`t.scripts.find_by_route(method, path)` (DESIGN §10): which live http script owns a route."""

from __future__ import annotations

from uuid import uuid4

import psycopg
import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import ScriptType
from scripts_es.errors import InvalidInput, NotFound
from scripts_es.store.database import APP_ROLE, QUERIES
from tests.support.commands import create_command


def hook(tenant: TenantSession, path: str = "/hooks/orders", method: str = "post") -> object:
    return tenant.handle(create_command(ScriptType.HTTP, metadata={"path": path, "method": method}))


@pytest.mark.parametrize("method", ["POST", "post", "Post"])
def test_the_live_script_of_a_route_is_found_whatever_the_case_of_the_method(
    tenant: TenantSession, method: str
) -> None:
    script = hook(tenant)
    assert tenant.scripts.find_by_route(method, "/hooks/orders") == script


def test_a_route_nobody_serves_is_not_found(tenant: TenantSession) -> None:
    hook(tenant)
    for method, path in (("GET", "/hooks/orders"), ("POST", "/hooks/order"), ("POST", "/")):
        with pytest.raises(NotFound, match="route"):
            tenant.scripts.find_by_route(method, path)


def test_a_deleted_script_and_a_moved_route_no_longer_answer(tenant: TenantSession) -> None:
    moved = hook(tenant, "/old")
    moved = tenant.handle(
        c.ChangeScriptMetadata(script_id=moved.id, metadata={"path": "/new", "method": "PUT"})
    )
    with pytest.raises(NotFound):
        tenant.scripts.find_by_route("POST", "/old")
    assert tenant.scripts.find_by_route("put", "/new") == moved
    gone = hook(tenant, "/gone")
    tenant.handle(c.DeleteScript(script_id=gone.id))
    with pytest.raises(NotFound):
        tenant.scripts.find_by_route("POST", "/gone")
    assert hook(tenant, "/gone").id != gone.id  # the route is free again, for another script


def test_another_tenants_route_is_not_found(module: ScriptsModule, tenant: TenantSession) -> None:
    hook(tenant, "/mine")
    other = module.tenant(uuid4(), uuid4())
    with pytest.raises(NotFound):
        other.scripts.find_by_route("POST", "/mine")
    theirs = hook(other, "/mine")  # routes are unique per tenant, not across tenants
    assert other.scripts.find_by_route("POST", "/mine") == theirs
    assert tenant.scripts.find_by_route("POST", "/mine") != theirs


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [("FETCH", "/x", "method"), ("GET", "x", "path"), ("GET", "/a b", "path"), (1, "/x", "method")],
)
def test_a_malformed_route_is_invalid_input(
    tenant: TenantSession, method: object, path: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as raised:
        tenant.scripts.find_by_route(method, path)  # type: ignore[arg-type]
    assert raised.value.field.endswith(field)


def test_the_lookup_is_one_index_scan_of_the_route_table_as_the_app_role(
    tenant: TenantSession, dsn: str
) -> None:
    hook(tenant)
    tenant_id = tenant.session.tenant_id
    with psycopg.connect(dsn) as conn:
        conn.execute(f"SET ROLE {APP_ROLE}")
        conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        conn.execute("SET enable_seqscan = off")  # a tiny table: ask whether an index *can* serve
        plan = "\n".join(
            row[0]
            for row in conn.execute(
                "EXPLAIN " + QUERIES["find_route"],  # type: ignore[operator]
                {"tenant_id": tenant_id, "method": "POST", "path": "/hooks/orders"},
            )
        )
    assert "Index Scan using script_routes_pkey" in plan or "Index Only Scan" in plan, plan
    assert "Seq Scan" not in plan, plan

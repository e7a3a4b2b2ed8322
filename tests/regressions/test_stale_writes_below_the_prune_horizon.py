"""Issue 9, cause 1: optimistic concurrency must hold below the prune horizon.

Pruning deletes the events below the horizon, so the events primary key alone cannot tell a
stale append (decided on a version that pruning removed) from a fresh one. Every append checks
the stream's head in the same transaction, under the stream's lock.
"""

from __future__ import annotations

from uuid import uuid4

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import ScriptType, VersionRetentionPolicy
from scripts_es.errors import ConcurrencyConflict, InvalidInput
from tests.support.commands import create_command
from tests.support.raw import stream_versions


def _pruned_script(tenant: TenantSession) -> tuple:  # type: ignore[type-arg]
    script = tenant.handle(create_command())
    stale = tenant.scripts.find_by_id(script.id)
    for n in range(5):
        tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{n + 2}"))
    tenant.scripts.prune_version_history(script.id, VersionRetentionPolicy(max_versions=1))
    return script, stale


def test_a_stale_update_after_a_prune_is_a_concurrency_conflict(
    tenant: TenantSession, dsn: str
) -> None:
    script, stale = _pruned_script(tenant)
    with pytest.raises(ConcurrencyConflict):
        tenant.scripts.update(stale.update_content("STALE", tenant.session.user_id))
    current = tenant.scripts.find_by_id(script.id)
    assert current.version == 6 and current.content == "v6"
    assert [v.version for v in tenant.scripts.get_version_history(script.id)] == [6]
    assert stream_versions(dsn, script.id) == [6]


def test_a_stale_update_below_a_horizon_between_versions_is_refused(
    tenant: TenantSession, dsn: str
) -> None:
    script = tenant.handle(create_command())
    stale = tenant.scripts.find_by_id(script.id)
    stale = stale.update_content("v2", tenant.session.user_id)  # decided, not yet stored
    for n in range(4):
        tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"w{n}"))
    tenant.scripts.prune_version_history(script.id, VersionRetentionPolicy(max_versions=2))
    with pytest.raises(ConcurrencyConflict):
        tenant.scripts.update(stale)
    assert stream_versions(dsn, script.id) == [4, 5]


def test_creating_a_script_whose_first_version_was_pruned_is_invalid_input(
    tenant: TenantSession, dsn: str
) -> None:
    script, _ = _pruned_script(tenant)
    with pytest.raises(InvalidInput, match="already exists"):
        tenant.handle(create_command(script_id=script.id, name="again"))
    assert stream_versions(dsn, script.id) == [6]
    assert tenant.scripts.find_by_id(script.id).content == "v6"


def test_an_http_route_stays_with_its_script_when_its_id_is_reused_after_a_prune(
    tenant: TenantSession,
) -> None:
    script = tenant.handle(create_command(ScriptType.HTTP))
    for n in range(3):
        tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{n}"))
    tenant.scripts.prune_version_history(script.id, VersionRetentionPolicy(max_versions=1))
    with pytest.raises(InvalidInput):
        tenant.handle(
            create_command(
                ScriptType.HTTP,
                script_id=script.id,
                metadata={"path": "/elsewhere", "method": "GET"},
            )
        )
    # The live route is still the script's own: another script cannot take it.
    with pytest.raises(Exception, match="already taken"):
        tenant.handle(create_command(ScriptType.HTTP, name="thief"))


def test_an_execution_id_cannot_be_reused_after_its_stream_was_pruned(
    module: ScriptsModule, tenant: TenantSession, dsn: str
) -> None:
    script = tenant.handle(create_command())
    execution_id = uuid4()
    run = tenant.handle(
        c.StartExecution(script_id=script.id, execution_id=execution_id, trigger={"type": "api"})
    )
    tenant.handle(
        c.CompleteExecution(execution_id=run.id, status="completed", result={"output": "ok"})
    )
    assert tenant.executions.prune(0) == 1
    assert stream_versions(dsn, execution_id) == []
    with pytest.raises(InvalidInput, match="already exists"):
        tenant.handle(
            c.StartExecution(
                script_id=script.id, execution_id=execution_id, trigger={"type": "api"}
            )
        )
    assert stream_versions(dsn, execution_id) == []


def test_rebuild_and_verify_succeed_after_a_refused_stale_write(
    module: ScriptsModule, tenant: TenantSession
) -> None:
    script, stale = _pruned_script(tenant)
    with pytest.raises(ConcurrencyConflict):
        tenant.scripts.update(stale.update_content("STALE", tenant.session.user_id))
    assert module.verify_projections().ok
    module.rebuild_projections()
    assert tenant.scripts.find_by_id(script.id).version == 6

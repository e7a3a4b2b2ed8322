from __future__ import annotations

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import VersionRetentionPolicy
from scripts_es.errors import VersionPruned


def test_pruning_keeps_current_state_and_an_honest_horizon(
    module: ScriptsModule, tenant: TenantSession
) -> None:
    script = tenant.handle(c.CreateScript(name="a", content="x", type="one_off"))
    states = [script]
    for i in range(24):
        states.append(tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{i}")))
    before = tenant.scripts.find()
    result = tenant.scripts.prune_version_history(script.id, VersionRetentionPolicy(max_versions=5))
    assert (result.horizon, result.removed) == (21, 20)
    assert tenant.scripts.find() == before
    assert tenant.scripts.find_by_id(script.id) == states[-1]
    assert [v.version for v in tenant.scripts.get_version_history(script.id)] == list(range(21, 26))
    for v in range(21, 26):
        assert tenant.scripts.get_version(script.id, v) == states[v - 1]
    with pytest.raises(VersionPruned) as pruned:
        tenant.scripts.get_version(script.id, 20)
    assert pruned.value.horizon == 21
    again = tenant.scripts.prune_version_history(script.id, VersionRetentionPolicy(max_versions=5))
    assert again.removed == 0
    assert module.verify_projections().ok
    module.rebuild_projections()
    assert tenant.scripts.find() == before
    nxt = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="next"))
    assert nxt.version == 26


def test_prune_command_is_idempotent_by_command_id(tenant: TenantSession) -> None:
    script = tenant.handle(c.CreateScript(name="a", content="x", type="one_off"))
    for i in range(9):
        tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{i}"))
    cmd = c.PruneScriptHistory(script_id=script.id, max_versions=3, command_id=script.id)
    first = tenant.handle(cmd)
    assert (first.horizon, first.removed) == (8, 7)
    assert tenant.handle(cmd) == first

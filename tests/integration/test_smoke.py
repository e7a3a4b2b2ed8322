from __future__ import annotations

from scripts_es import TenantSession
from scripts_es import commands as c


def test_a_created_script_reads_back_with_its_history(tenant: TenantSession) -> None:
    script = tenant.handle(c.CreateScript(name="hello", content="a", type="one_off"))
    updated = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="b"))
    assert tenant.scripts.find_by_id(script.id) == updated
    assert [v.version for v in tenant.scripts.get_version_history(script.id)] == [1, 2]
    assert tenant.scripts.get_version(script.id, 1) == script

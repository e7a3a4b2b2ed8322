from __future__ import annotations

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c


def test_rebuild_reproduces_the_live_tables_and_verify_agrees(
    module: ScriptsModule, tenant: TenantSession
) -> None:
    script = tenant.handle(c.CreateScript(name="a", content="x", type="one_off"))
    for i in range(25):
        tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{i}"))
    doomed = tenant.handle(c.CreateScript(name="b", content="x", type="one_off"))
    tenant.handle(c.DeleteScript(script_id=doomed.id))
    run = tenant.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}))
    tenant.handle(c.CompleteExecution(execution_id=run.id, status="failed", result={"error": "x"}))
    before = tenant.scripts.find()
    assert module.verify_projections().ok
    report = module.rebuild_projections()
    assert report.scripts == 1 and report.script_versions == 26 and report.executions == 1
    assert tenant.scripts.find() == before
    assert module.verify_projections().ok
    assert module.run_projections(once=True).events == 30
    assert module.verify_projections().ok

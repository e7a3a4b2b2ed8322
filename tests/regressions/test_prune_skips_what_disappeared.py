"""Issue 9, cause 4: `prune scripts` aborted when a script it listed was deleted meanwhile.

An operator prune lists every (tenant, script) first, then prunes them one at a time. A script
deleted between the two is skipped and reported (`skipped`), and the run goes on.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.cli import cli
from scripts_es.domain import ExecutionStatus, Script, TriggerType, VersionRetentionPolicy
from scripts_es.service import operations as retention
from scripts_es.service.unit_of_work import drive


def _script_with_history(tenant: TenantSession, name: str) -> Script:
    script = tenant.handle(c.CreateScript(name=name, content="v1", type="one_off"))
    for n in range(2, 5):
        script = tenant.handle(c.UpdateScriptContent(script_id=script.id, content=f"v{n}"))
    return script


def _delete_before_its_turn(
    monkeypatch: pytest.MonkeyPatch, tenant: TenantSession, victim: UUID
) -> list[UUID]:
    """Delete `victim` right before the prune reaches it: after the listing, deterministically."""
    real = retention.prune_script
    seen: list[UUID] = []

    def racing(repo: Any, script_id: UUID, *args: Any, **kwargs: Any) -> Any:
        seen.append(script_id)
        if script_id == victim:
            tenant.scripts.delete(victim)
        return real(repo, script_id, *args, **kwargs)

    monkeypatch.setattr(retention, "prune_script", racing)
    return seen


def test_a_script_deleted_between_listing_and_pruning_is_skipped_and_reported(
    module: ScriptsModule, tenant: TenantSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    scripts = [_script_with_history(tenant, f"s{n}") for n in range(3)]
    victim = scripts[1].id
    seen = _delete_before_its_turn(monkeypatch, tenant, victim)

    summary = module.prune_scripts(VersionRetentionPolicy(max_versions=1))

    assert sorted(seen) == sorted(s.id for s in scripts)  # it was listed, then vanished
    assert summary.skipped == 1
    assert (summary.scripts_touched, summary.events_removed) == (2, 6)
    for script in scripts:
        if script.id != victim:
            assert [v.version for v in tenant.scripts.get_version_history(script.id)] == [4]


def test_the_cli_reports_the_skipped_script_and_exits_zero(
    capsys: pytest.CaptureFixture[str],
    dsn: str,
    tenant: TenantSession,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        code = cli(list(argv))
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    first = _script_with_history(tenant, "first")
    second = _script_with_history(tenant, "second")
    _delete_before_its_turn(monkeypatch, tenant, second.id)

    code, out, err = run("prune", "scripts", "--max-versions", "1", "--dsn", dsn, "--json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["skipped"], document["scripts_touched"]) == (1, 1)

    third = _script_with_history(tenant, "third")
    _delete_before_its_turn(monkeypatch, tenant, third.id)
    code, out, err = run("prune", "scripts", "--max-versions", "1", "--dsn", dsn)
    assert code == 0, err
    assert "skipped" in out
    assert [v.version for v in tenant.scripts.get_version_history(first.id)] == [4]


def test_executions_of_a_tenant_that_vanished_after_the_listing_are_no_error(
    module: ScriptsModule, tenant: TenantSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = module.tenant(uuid4(), uuid4())
    for session in (tenant, other):
        script = session.handle(c.CreateScript(name="job", content="x", type="one_off"))
        execution = session.handle(
            c.StartExecution(script_id=script.id, trigger=c.TriggerData(type=TriggerType.API))
        )
        session.handle(
            c.CompleteExecution(execution_id=execution.id, status=ExecutionStatus.COMPLETED)
        )
    real = retention.prune_executions
    first = [True]

    def racing(repo: Any, *args: Any, **kwargs: Any) -> Any:
        if first[0]:  # the first listed tenant's executions go away before its turn
            first[0] = False
            drive(repo, real(repo, 0, 0, dry_run=False))
        return real(repo, *args, **kwargs)

    monkeypatch.setattr(retention, "prune_executions", racing)
    summary = module.prune_executions(0)
    assert summary.executions_removed == 1

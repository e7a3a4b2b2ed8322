"""`projections` and `prune` commands against a throwaway database with some history."""

from __future__ import annotations

import io
import os
import re
import signal
import threading
import time
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from rich.console import Console

from scripts_es import TenantSession
from scripts_es import commands as c
from scripts_es.cli import output as output_module
from scripts_es.cli.output import Output
from scripts_es.domain import ExecutionStatus, Script, TriggerType

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def script(tenant: TenantSession) -> Script:
    """A script at version 5 with one completed execution."""
    made = tenant.handle(c.CreateScript(name="report", content="v1", type="one_off"))
    for n in range(2, 6):
        made = tenant.handle(c.UpdateScriptContent(script_id=made.id, content=f"v{n}"))
    run = tenant.handle(
        c.StartExecution(script_id=made.id, trigger=c.TriggerData(type=TriggerType.API))
    )
    tenant.handle(c.CompleteExecution(execution_id=run.id, status=ExecutionStatus.COMPLETED))
    return made


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the CLI believe stdout is a terminal (so it draws progress bars)."""
    monkeypatch.setattr(output_module, "Console", partial(Console, force_terminal=True))


def test_status_run_once_then_status_again(run: Any, dsn: str, script: Script) -> None:
    before = run("projections", "status", "--dsn", dsn, "--json").json()["projections"]
    assert [p["name"] for p in before] == ["read_model"]
    assert before[0]["lag_events"] == 7  # 5 script events, 2 execution events
    shown = run("projections", "status", "--dsn", dsn)
    assert shown.code == 0
    assert "read_model" in shown.out
    assert "lag" in shown.out

    # Other transactions anywhere in the cluster may hold the runner's horizon back, so only
    # the sum is certain: what the run applied plus what it left behind.
    caught_up = run("projections", "run", "--once", "--dsn", dsn, "--json")
    assert caught_up.code == 0
    applied = caught_up.json()["events"]
    after = run("--json", "--dsn", dsn, "projections", "status").json()["projections"]
    assert applied + after[0]["lag_events"] == 7
    again = run("projections", "run", "--once", "--dsn", dsn)
    assert again.code == 0
    assert "Caught up: applied" in again.out


def test_run_follows_until_ctrl_c(run: Any, dsn: str, script: Script) -> None:
    def interrupt_once_following() -> None:
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            if time.monotonic() > deadline:
                return
            time.sleep(0.02)
        time.sleep(0.3)
        os.kill(os.getpid(), signal.SIGINT)

    threading.Thread(target=interrupt_once_following, daemon=True).start()
    ran = run("projections", "run", "--dsn", dsn)
    assert ran.code == 0, ran.err
    assert "Ctrl-C" in ran.out
    assert "Stopped: applied" in ran.out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_rebuild_all_and_one_tenant(run: Any, dsn: str, script: Script) -> None:
    report = run("projections", "rebuild", "--dsn", dsn, "--json").json()
    assert report["tenant_id"] is None
    assert (report["scripts"], report["script_versions"], report["executions"]) == (1, 5, 1)
    one = run("projections", "rebuild", "--tenant", str(script.tenant_id), "--dsn", dsn, "--json")
    assert one.json()["tenant_id"] == str(script.tenant_id)
    shown = run("projections", "rebuild", "--dsn", dsn)
    assert shown.code == 0
    assert "script versions" in shown.out


def test_rebuild_draws_a_progress_bar_on_a_terminal(
    run: Any, dsn: str, script: Script, terminal: None
) -> None:
    ran = run("projections", "rebuild", "--dsn", dsn)
    assert ran.code == 0
    shown = ANSI.sub("", ran.out)
    assert "Rebuilding" in shown
    assert "7/7" in shown


def test_verify_passes_then_finds_drift(run: Any, dsn: str, script: Script) -> None:
    ok = run("projections", "verify", "--dsn", dsn)
    assert ok.code == 0
    assert "OK" in ok.out
    with psycopg.connect(dsn, autocommit=True) as conn:  # a superuser bypasses row security
        conn.execute("UPDATE scripts_es.scripts SET name = 'tampered' WHERE id = %s", (script.id,))
    drift = run("projections", "verify", "--dsn", dsn)
    assert drift.code == 1
    assert "DRIFT" in drift.out
    assert "name live='tampered' rebuilt='report'" in " ".join(drift.out.split())
    as_json = run(
        "--json", "projections", "verify", "--tenant", str(script.tenant_id), "--dsn", dsn
    )
    assert as_json.code == 1
    report = as_json.json()
    assert report["ok"] is False
    tables = {t["table"]: t for t in report["tables"]}
    assert tables["scripts"]["missing"] == 1
    assert tables["scripts"]["extra"] == 1


def test_prune_scripts_dry_run_then_for_real(
    run: Any, dsn: str, script: Script, tenant: TenantSession
) -> None:
    argv = ["prune", "scripts", "--max-versions", "2", "--dsn", dsn, "--json"]
    dry = run(*argv, "--dry-run").json()
    assert (dry["dry_run"], dry["scripts_touched"], dry["events_removed"]) == (True, 1, 3)
    assert [v.version for v in tenant.scripts.get_version_history(script.id)] == [1, 2, 3, 4, 5]
    other = run(*argv, "--tenant", str(uuid4())).json()
    assert other["events_removed"] == 0
    done = run(*argv, "--tenant", str(script.tenant_id)).json()
    assert (done["dry_run"], done["events_removed"]) == (False, 3)
    assert done["bytes_freed"] > 0
    assert [v.version for v in tenant.scripts.get_version_history(script.id)] == [4, 5]
    again = run("prune", "scripts", "--max-versions", "2", "--retention-days", "30", "--dsn", dsn)
    assert again.code == 0
    assert "events removed" in again.out


def test_prune_scripts_draws_a_progress_bar_on_a_terminal(
    run: Any, dsn: str, script: Script, terminal: None
) -> None:
    ran = run("prune", "scripts", "--retention-days", "1", "--dsn", dsn)
    assert ran.code == 0
    assert "Pruning scripts" in ran.out


def test_prune_executions(run: Any, dsn: str, script: Script) -> None:
    argv = ["prune", "executions", "--older-than-days", "0", "--dsn", dsn, "--json"]
    assert run(*argv, "--keep-last", "1").json()["executions_removed"] == 0
    assert run(*argv, "--dry-run").json()["executions_removed"] == 1
    shown = run(*argv[:-1], "--tenant", str(script.tenant_id))
    assert shown.code == 0
    assert "executions removed" in shown.out
    assert run(*argv).json()["executions_removed"] == 0


def test_progress_is_a_callback_on_a_terminal_and_none_otherwise() -> None:
    buffer = io.StringIO()
    out = Output(as_json=False)
    out.console = Console(file=buffer, force_terminal=True, width=80)
    with out.progress("Working") as progress:
        assert progress is not None
        progress(3, 4)
    shown = ANSI.sub("", buffer.getvalue())
    assert "Working" in shown
    assert "3/4" in shown
    with Output(as_json=True).progress("Working") as nothing:
        assert nothing is None


def test_json_output_encodes_ids_and_times(capsys: pytest.CaptureFixture[str]) -> None:
    Output(as_json=True).emit({"id": UUID(int=1), "nested": [{"n": 1}]})
    assert capsys.readouterr().out.startswith("{")


def test_status_names_the_transaction_that_holds_the_feed_back(
    run: Any, dsn: str, tenant: TenantSession
) -> None:
    with psycopg.connect(dsn) as holder:
        (xid,) = holder.execute("SELECT pg_current_xact_id()::text").fetchone() or ("",)
        deadline = time.monotonic() + 60  # older transactions of other tests end first
        while time.monotonic() < deadline:
            with psycopg.connect(dsn) as probe:
                row = probe.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
                if (row.fetchone() or ("",))[0] == xid:
                    break
            time.sleep(0.01)
        tenant.handle(c.CreateScript(name="late", content="x", type="one_off"))
        status = run("projections", "status", "--dsn", dsn, "--json").json()["projections"]
        held = status[0]["held_back"]
        assert held["pid"] == holder.info.backend_pid
        assert held["database"] == holder.info.dbname
        assert held["waiting_events"] >= 1 and held["held_seconds"] >= 0
        shown = run("projections", "status", "--dsn", dsn)
        assert "Held back" in ANSI.sub("", shown.out)
        assert str(holder.info.backend_pid) in shown.out
        holder.rollback()


def test_status_lists_the_feeds_registered_consumers(run: Any, dsn: str, script: Script) -> None:
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO scripts_es.feed_tracking (application_name, notification_id) "
            "VALUES ('host_view', 1)"
        )
    status = run("projections", "status", "--dsn", dsn, "--json").json()
    (consumer,) = status["feed_consumers"]
    assert consumer["name"] == "host_view" and consumer["position"] == 1
    assert consumer["behind"] == 6  # 7 events, one of them read
    shown = run("projections", "status", "--dsn", dsn)
    assert "Feed consumers" in shown.out and "host_view" in shown.out

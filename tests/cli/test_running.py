"""`scheduler run` and `executions sweep` against a throwaway database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, ScriptType
from tests.support.clock import Clock
from tests.support.commands import create_command
from tests.support.pg import ROOT
from tests.support.raw import raw

COMMAND = (sys.executable, "-m", "scripts_es.cli")


def a_due_cron_script(module: ScriptsModule, tenant_id: UUID) -> UUID:
    """A minutely cron script created an hour ago: an hour of its slots passed unfired."""
    past = module.with_clock(Clock(datetime.now(UTC) - timedelta(hours=1)))
    metadata = {"cron_expression": "* * * * *", "timezone": "Europe/Berlin"}
    t = past.tenant(tenant_id, uuid4())
    return t.handle(create_command(ScriptType.CRON, metadata=metadata)).id


def test_scheduler_run_once_fires_each_due_script_once(
    run: Any, dsn: str, module: ScriptsModule
) -> None:
    mine, other = uuid4(), uuid4()
    first = a_due_cron_script(module, mine)
    a_due_cron_script(module, other)
    ran = run("scheduler", "run", "--once", "--tenant", str(mine), "--dsn", dsn, "--json")
    assert ran.code == 0, ran.err
    report = ran.json()
    assert (report["fired"], report["failed"]) == (1, 0)
    assert report["skipped_slots"] >= 59  # the misfire policy: the latest slot, once
    with raw(dsn) as conn:
        assert (
            conn.scalar("SELECT count(*) FROM scripts_es.executions WHERE script_id = %s", (first,))
            == 1
        )
    ran = run("scheduler", "run", "--once", "--dsn", dsn)  # every tenant: only the other fires
    assert ran.code == 0, ran.err
    assert "runs fired" in ran.out and "1" in ran.out
    with raw(dsn) as conn:
        assert conn.scalar("SELECT count(*) FROM scripts_es.executions") == 2


def test_executions_sweep_times_out_lapsed_claims(
    run: Any, dsn: str, module: ScriptsModule, tenant_id: UUID, user_id: UUID
) -> None:
    past = module.with_clock(Clock(datetime.now(UTC) - timedelta(hours=1)))
    t = past.tenant(tenant_id, user_id)
    script = t.handle(create_command(ScriptType.ONE_OFF))
    queued = t.handle(c.EnqueueExecution(script_id=script.id, trigger={"type": "api"}))
    (claimed,) = past.claim("gone-away", lease=60)  # its lease ended 59 minutes ago
    assert claimed.id == queued.id
    ran = run("executions", "sweep", "--dsn", dsn, "--json")
    assert ran.code == 0, ran.err
    assert ran.json() == {"timed_out": 1, "executions": [str(queued.id)]}
    assert t.executions.find_by_id(queued.id).status is ExecutionStatus.TIMEOUT
    assert run("executions", "sweep", "--dsn", dsn).out.startswith("Timed out 0")
    assert run("executions", "sweep", "--limit", "0", "--dsn", dsn).code == 2


def test_scheduler_run_stops_cleanly_on_sigterm(dsn: str, module: ScriptsModule) -> None:
    due = a_due_cron_script(module, uuid4())
    env = {k: v for k, v in os.environ.items() if k != "SCRIPTS_ES_DSN"}
    child = subprocess.Popen(
        [*COMMAND, "scheduler", "run", "--interval", "0.2", "--dsn", dsn, "--json"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        fired = 0
        while time.monotonic() < deadline and not fired:
            time.sleep(0.2)
            with raw(dsn) as conn:
                fired = conn.scalar(
                    "SELECT count(*) FROM scripts_es.executions WHERE script_id = %s", (due,)
                )
        assert fired == 1, "the scheduler never fired the due slot"
        child.send_signal(signal.SIGTERM)
        out, err = child.communicate(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    report = json.loads(out)
    assert report["fired"] >= 1 and report["rounds"] >= 1

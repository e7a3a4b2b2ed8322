"""examples/execution_counts.py: the library's ProjectionRunner over scripts-es events keeps
per-tenant counts by status, and a SIGKILL of the runner at any point counts nothing twice."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter

import psycopg
import pytest

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import ExecutionStatus, TriggerType
from tests.support.pg import ROOT

EXAMPLE = ROOT / "examples" / "execution_counts.py"


def start_runner(dsn: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), *sys.path]),
        "PERSISTENCE_MODULE": "scripts_es.feed",
        "SCRIPTS_ES_DSN": dsn,
        "SCRIPTS_ES_FEED_POLL": "0.02",
    }
    child = subprocess.Popen(
        [sys.executable, str(EXAMPLE)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    if child.stdout.readline().strip() != "following":
        child.kill()
        pytest.fail(f"the example did not start: {child.communicate()[1]}")
    return child


def workload(module: ScriptsModule, seed: int, expected: Counter[tuple[uuid.UUID, str]]) -> None:
    rng = random.Random(seed)
    tenants = [module.tenant(uuid.uuid4(), uuid.uuid4()) for _ in range(2)]
    scripts = {
        t.session.tenant_id: t.handle(c.CreateScript(name="s", content="x", type="one_off")).id
        for t in tenants
    }
    for _ in range(40):
        t = rng.choice(tenants)
        tenant_id = t.session.tenant_id
        trigger = c.TriggerData(type=TriggerType.API)
        if rng.random() < 0.3:
            t.handle(c.EnqueueExecution(script_id=scripts[tenant_id], trigger=trigger))
            expected[(tenant_id, "pending")] += 1
            continue
        run = t.handle(c.StartExecution(script_id=scripts[tenant_id], trigger=trigger))
        expected[(tenant_id, "running")] += 1
        if rng.random() < 0.8:
            status = rng.choice([ExecutionStatus.COMPLETED, ExecutionStatus.FAILED])
            t.handle(c.CompleteExecution(execution_id=run.id, status=status))
            expected[(tenant_id, str(status))] += 1
        time.sleep(rng.random() * 0.02)


def counts(dsn: str) -> Counter[tuple[uuid.UUID, str]]:
    with psycopg.connect(dsn) as conn:
        exists = conn.execute("SELECT to_regclass('execution_counts') IS NOT NULL").fetchone()
        if not exists or not exists[0]:
            return Counter()
        rows = conn.execute("SELECT tenant_id, status, executions FROM execution_counts")
        return Counter({(tenant, status): int(n) for tenant, status, n in rows})


def test_the_example_counts_each_execution_once_across_sigkills_of_its_runner(
    module: ScriptsModule, dsn: str
) -> None:
    expected: Counter[tuple[uuid.UUID, str]] = Counter()
    writer = threading.Thread(target=workload, args=(module, 5, expected))
    writer.start()
    rng = random.Random(11)
    kills = 0
    child = start_runner(dsn)
    try:
        while writer.is_alive() or kills < 3:
            time.sleep(0.1 + rng.random() * 0.4)
            child.send_signal(signal.SIGKILL)
            child.wait()
            kills += 1
            child = start_runner(dsn)
        writer.join()
        deadline = time.monotonic() + 60
        while counts(dsn) != expected and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        errors = child.communicate()[1]
    assert counts(dsn) == expected, errors
    assert kills >= 3

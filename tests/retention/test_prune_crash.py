"""A prune whose process is SIGKILLed at a random moment leaves each script either exactly as
before or exactly as after the prune, never in between (DESIGN §5).

A child process prunes several long scripts one after another (the real code, nothing slowed
down); the parent kills it at moments spread over the time the work takes, then inspects what
the server kept once the child's backends are gone.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from scripts_es import ScriptsModule, TenantSession
from scripts_es.domain import Script
from tests.support.clock import EPOCH
from tests.support.pg import ROOT
from tests.support.raw import Raw

VERSIONS = 250
SCRIPTS = 6
KEEP = 5  # the child's policy: max_versions=5
HORIZON = VERSIONS - KEEP + 1
KILLS = 8

CHILD = """
import sys, time, uuid
from scripts_es import ScriptsModule
from scripts_es.domain import VersionRetentionPolicy

dsn, tenant, user, keep, *ids = sys.argv[1:]
with ScriptsModule.open(dsn, install=False, snapshot_every=10) as module:
    session = module.tenant(uuid.UUID(tenant), uuid.UUID(user))
    policy = VersionRetentionPolicy(max_versions=int(keep))
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    for script_id in ids:
        session.scripts.prune_version_history(uuid.UUID(script_id), policy)
        print("pruned", script_id, flush=True)
    print("done", time.perf_counter() - started, flush=True)
"""


@dataclass
class Long:
    """A script written with VERSIONS versions, every state kept for comparison."""

    states: list[Script]
    events: list[tuple[Any, ...]]
    snapshots: list[tuple[Any, ...]]
    versions: list[tuple[Any, ...]]

    @property
    def id(self) -> uuid.UUID:
        return self.states[0].id


def write_long_scripts(session: TenantSession, raw: Raw) -> list[Long]:
    user = session.session.user_id
    scripts = []
    for _ in range(SCRIPTS):
        script = Script.create(
            tenant_id=session.session.tenant_id,
            created_by=user,
            name="long",
            content="c1",
            type="one_off",
            metadata={},
            at=EPOCH,
        )
        states = [script.without_pending()]
        for v in range(2, VERSIONS + 1):
            script = script.update_content(f"c{v}", user, at=EPOCH + timedelta(minutes=v))
            states.append(script.without_pending())
        session.scripts.create(script)
        where = "originator_id = %s"
        scripts.append(
            Long(
                states,
                raw.table("events", where, (script.id,)),
                raw.table("snapshots", where, (script.id,)),
                raw.table("script_versions", "script_id = %s", (script.id,)),
            )
        )
    return scripts


def backends(raw: Raw) -> set[int]:
    rows = raw.rows(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND pid <> pg_backend_pid()"
    )
    return {pid for (pid,) in rows}


def run_child(
    dsn: str, session: TenantSession, scripts: list[Long], raw: Raw, kill_after: float | None
) -> tuple[list[str], float | None]:
    """Run the pruning child; SIGKILL it `kill_after` seconds into its work (None: let it end).
    Returns its output lines and how long the work took (when it ended by itself)."""
    ours = backends(raw)
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            CHILD,
            dsn,
            str(session.session.tenant_id),
            str(session.session.user_id),
            str(KEEP),
            *(str(s.id) for s in scripts),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert child.stdin is not None and child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    child.stdin.write("go\n")
    child.stdin.flush()
    if kill_after is None:
        out, _ = child.communicate(timeout=60)
    else:
        time.sleep(kill_after)
        child.kill()
        out, _ = child.communicate(timeout=60)
    lines = out.split("\n")
    took = next((float(line.split()[1]) for line in lines if line.startswith("done")), None)
    # The server ends the child's sessions (rolling back an open transaction) once it notices
    # the connection is gone; only then is the outcome final.
    deadline = time.monotonic() + 10
    while backends(raw) - ours:
        assert time.monotonic() < deadline, "the killed child's backends did not go away"
        time.sleep(0.01)
    return lines, took


def outcome(session: TenantSession, raw: Raw, script: Long) -> str:
    """'before' or 'after', after checking the script is exactly in one of the two states."""
    sid = script.id
    events = raw.table("events", "originator_id = %s", (sid,))
    snapshots = raw.table("snapshots", "originator_id = %s", (sid,))
    versions = raw.table("script_versions", "script_id = %s", (sid,))
    audit = raw.audit(sid)
    assert session.scripts.find_by_id(sid) == script.states[-1]
    history = [v.version for v in session.scripts.get_version_history(sid)]
    if len(events) == VERSIONS:
        assert (events, snapshots, versions, audit) == (
            script.events,
            script.snapshots,
            script.versions,
            [],
        )
        assert history == list(range(1, VERSIONS + 1))
        checked = [1, 2, HORIZON - 1, HORIZON, VERSIONS]
        state = "before"
    else:
        assert len(events) == VERSIONS - HORIZON + 1, f"{len(events)} events: a partial prune"
        assert events == [e for e in script.events if e[2] >= HORIZON]
        assert versions == [v for v in script.versions if v[2] >= HORIZON]
        assert [s[2] for s in snapshots] == sorted(
            {HORIZON} | {s[2] for s in script.snapshots if s[2] >= HORIZON}
        )
        assert [(a[3], a[4]) for a in audit] == [(HORIZON, HORIZON - 1)]
        assert history == list(range(HORIZON, VERSIONS + 1))
        checked = history
        state = "after"
    for version in checked:
        assert session.scripts.get_version(sid, version) == script.states[version - 1]
    return state


@pytest.mark.slow
def test_a_pruning_process_killed_at_random_moments_leaves_each_script_before_or_after(
    module: ScriptsModule, dsn: str, raw: Raw
) -> None:
    session = module.tenant(uuid.uuid4(), uuid.uuid4())

    calibration = write_long_scripts(session, raw)
    lines, took = run_child(dsn, session, calibration, raw, kill_after=None)
    assert took is not None, lines
    assert [outcome(session, raw, s) for s in calibration] == ["after"] * SCRIPTS

    rng = random.Random(20310101)
    partial = 0
    for kill in range(KILLS):
        scripts = write_long_scripts(session, raw)
        kill_after = (kill + rng.random()) * took / KILLS  # spread over the whole window
        lines, _ = run_child(dsn, session, scripts, raw, kill_after)
        states = [outcome(session, raw, s) for s in scripts]
        reported = {line.split()[1] for line in lines if line.startswith("pruned")}
        done = states.count("after")
        # one prune after another: the pruned ones are a prefix, and every prune the child
        # saw commit is there (the next one may have committed just before the kill)
        assert states == ["after"] * done + ["before"] * (SCRIPTS - done), (kill_after, states)
        assert {str(s.id) for s in scripts[: len(reported)]} == reported
        assert done - len(reported) in (0, 1), (kill_after, states, reported)
        partial += 0 < done < SCRIPTS
    assert partial, "no kill landed while the child was pruning: the window was missed"
    assert module.verify_projections().ok

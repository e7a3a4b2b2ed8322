"""The runner and rebuild survive SIGKILL at any point, and never skip an event that commits late.

Only the runner writes the read model here (inline projection off), so whatever the tables hold
was put there by runner batches and rebuilds that were killed at random moments.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
import uuid

import psycopg
import pytest

from projections import runner
from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Script
from scripts_es.service.handlers import saved
from scripts_es.service.unit_of_work import UnitOfWork
from tests.projections.support import (
    Workload,
    assert_rebuild_reproduces_live_tables,
    catch_up,
    script_event_keys,
)
from tests.support.pg import ROOT
from tests.support.raw import dump_read_model, event_count, scratch_tables_left

# Runs until killed: the runner follows the store in tiny batches, or rebuilds over and over.
CHILD = """
import sys
from scripts_es import ScriptsModule

mode, dsn = sys.argv[1], sys.argv[2]
module = ScriptsModule.open(dsn, install=False, inline_projections=False)
print("ready", flush=True)
if mode == "run":
    module.run_projections(batch_size=2, poll_interval=0.01)
else:
    while True:
        module.rebuild_projections()
"""


def tracking_position(dsn: str) -> tuple[int, int]:
    with psycopg.connect(dsn) as conn:
        row = conn.execute(
            "SELECT last_txid::text::bigint, last_notification_id "
            "FROM scripts_es.projection_tracking"
        ).fetchone()
    return (0, 0) if row is None else (int(row[0]), int(row[1]))


def start_child(mode: str, dsn: str) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, dsn],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    line = child.stdout.readline()
    if line.strip() != "ready":
        child.kill()
        pytest.fail(f"{mode} child did not start: {line!r} {child.communicate()[1]}")
    return child


def test_killing_the_runner_and_rebuild_at_random_points_never_skips_or_double_applies(
    dsn: str,
) -> None:
    rng = random.Random(20240601)
    with ScriptsModule.open(
        dsn, install=False, inline_projections=False, snapshot_every=5
    ) as module:
        work = Workload(module, rng)
        for _ in range(300):
            work.step()
        positions = [tracking_position(dsn)]
        for round_ in range(10):
            mode = "rebuild" if round_ % 3 == 2 else "run"
            child = start_child(mode, dsn)
            if mode == "run":  # kill it once it is busy committing batches
                moved = time.monotonic() + 5.0  # unless held back by a long transaction
                while tracking_position(dsn) == positions[-1] and time.monotonic() < moved:
                    work.step()
            deadline = time.monotonic() + rng.uniform(0.05, 0.5)
            while time.monotonic() < deadline:  # keep writing while the child works
                work.step()
            child.send_signal(signal.SIGKILL)
            _, err = child.communicate()
            assert child.returncode == -signal.SIGKILL, f"{mode} child failed by itself: {err}"
            positions.append(tracking_position(dsn))
        # The killed runners did commit batches between the kills.
        assert len(set(positions)) > 2

        catch_up(module)

        assert module.projection_status()[0].lag_events == 0
        assert module.verify_projections().ok
        live = dump_read_model(dsn)
        module.rebuild_projections()
        assert dump_read_model(dsn) == live
        assert scratch_tables_left(dsn) == []

        # Every live script is at its final version; deleted ones are gone.
        final = {(s.tenant_id, s.id): s.version for s in work.live()}
        assert {(r["tenant_id"], r["id"]): r["version"] for r in live["scripts"]} == final
        # One version row per stored event of every live script: nothing skipped or doubled.
        kept = [key for key in script_event_keys(dsn) if key[:2] in final]
        versions = live["script_versions"]
        assert [(r["tenant_id"], r["script_id"], r["version"]) for r in versions] == kept
        # Executions at their final status and version.
        assert {r["id"]: (r["status"], r["version"]) for r in live["executions"]} == {
            e.id: (e.status.value, e.version) for e in work.executions.values()
        }
        assert event_count(dsn) > 400


def run_one_batch(module: ScriptsModule) -> int:
    """One runner batch, without `once`'s waiting for held-back events to settle."""
    return runner.run_batch(module.db, module.store, 500)


def first_batch_with_events(module: ScriptsModule, deadline: float = 60.0) -> int:
    """The first batch that projects something: the horizon is server-wide, so another
    database's long transaction may hold even our oldest events back for a while."""
    give_up = time.monotonic() + deadline
    while not (done := run_one_batch(module)) and time.monotonic() < give_up:
        time.sleep(0.02)
    return done


def projected_names(dsn: str) -> set[str]:
    return {row["name"] for row in dump_read_model(dsn)["scripts"]}


def test_an_event_committed_after_a_newer_one_is_still_projected_by_the_next_pass(
    dsn: str,
) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
        t = module.tenant(tenant_id, user_id)
        t.handle(c.CreateScript(name="before", content="x", type="one_off"))
        late = Script.create(
            tenant_id=tenant_id, created_by=user_id, name="late", content="x", type="one_off",
            metadata={},
        )  # fmt: skip
        with module.db.tenant(tenant_id) as conn:
            UnitOfWork(t.session, conn).write(saved(late))
            conn.execute("SELECT pg_current_xact_id()").fetchone()  # the insert reached the server
            t.handle(c.CreateScript(name="after", content="x", type="one_off"))
            # Older events still flow; the open transaction holds back everything after it.
            assert first_batch_with_events(module) == 1
            assert projected_names(dsn) == {"before"}
            assert module.projection_status()[0].lag_events == 1  # "after"; "late" is unseen
        # "late" committed last, with an older position than "after": neither is skipped.
        assert catch_up(module) == 2
        assert projected_names(dsn) == {"before", "late", "after"}
        assert_rebuild_reproduces_live_tables(module, dsn)


def test_an_event_with_an_older_transaction_id_but_newer_notification_id_is_not_skipped(
    dsn: str,
) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
        t = module.tenant(tenant_id, user_id)
        late = Script.create(
            tenant_id=tenant_id, created_by=user_id, name="late", content="x", type="one_off",
            metadata={},
        )  # fmt: skip
        with module.db.tenant(tenant_id) as conn:
            # Take a transaction id first, write the event only after another one committed.
            conn.execute("SELECT pg_current_xact_id()").fetchone()
            t.handle(c.CreateScript(name="first", content="x", type="one_off"))
            assert run_one_batch(module) == 0
            UnitOfWork(t.session, conn).write(saved(late))
            conn.execute("SELECT 1").fetchone()
            assert run_one_batch(module) == 0
        assert catch_up(module) == 2
        assert projected_names(dsn) == {"first", "late"}
        with psycopg.connect(dsn) as raw:
            order = raw.execute(
                "SELECT e.notification_id, s.name FROM scripts_es.events e "
                "JOIN scripts_es.scripts s ON s.id = e.originator_id ORDER BY e.txid"
            ).fetchall()
        # Applied in transaction order although "late" drew the larger notification id.
        assert [name for _, name in order] == ["late", "first"]
        assert order[0][0] > order[1][0]
        assert_rebuild_reproduces_live_tables(module, dsn)

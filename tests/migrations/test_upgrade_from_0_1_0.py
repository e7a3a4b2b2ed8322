"""A database made by release 0.1.0, with data in it, upgrades with nothing lost (DESIGN §12).

Release 0.1.0 is taken from this repository's own history (its commit) and run from a
virtualenv of its own; it writes varied data. The current code then opens the same database
(applying the migrations) and finds every row, stream, version and stored result intact.
"""

from __future__ import annotations

import json
import subprocess
import sys
import sysconfig
import tarfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import psycopg
import pytest
from psycopg import sql

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Script, ScriptType, VersionRetentionPolicy
from scripts_es.errors import ConcurrencyConflict, NotFound, VersionPruned
from scripts_es.store import migrations
from tests.support.commands import create_command
from tests.support.pg import ROOT

RELEASE_0_1_0 = "b4a3f9d"
WRITER = Path(__file__).with_name("release_0_1_0_writer.py")
TABLES_0_1_0 = (
    "events", "snapshots", "commands", "script_routes", "prune_audit", "scripts",
    "script_tags", "script_versions", "executions", "projection_tracking",
)  # fmt: skip


@pytest.fixture(scope="session")
def release_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv whose `scripts_es` is release 0.1.0, checked out from git history.

    Its dependencies are this environment's (a .pth line), so nothing is downloaded.
    """
    where = tmp_path_factory.mktemp("release-0.1.0")
    archived = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", RELEASE_0_1_0],
        capture_output=True,
        check=False,
    )
    if archived.returncode != 0:
        pytest.fail(
            f"release 0.1.0 ({RELEASE_0_1_0}) is not in this checkout's git history: "
            f"{archived.stderr.decode().strip()} (clone with full history)"
        )
    source = where / "source"
    with tarfile.open(fileobj=BytesIO(archived.stdout)) as tar:
        tar.extractall(source, filter="data")
    venv = where / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    Path(site, "release_0_1_0.pth").write_text(
        f"{source}\n{sysconfig.get_paths()['purelib']}\n", encoding="utf-8"
    )
    return python


# Columns and result fields added since 0.1.0 (migration 0004: workers, leases, cron slots).
ADDED = frozenset({"queued_at", "worker", "lease_expires_at", "scheduled_for", "skipped_slots"})


def as_released(value: Any) -> Any:
    """`value` without the fields added since release 0.1.0."""
    if isinstance(value, dict):
        return {k: as_released(v) for k, v in value.items() if k not in ADDED}
    if isinstance(value, list):
        return [as_released(v) for v in value]
    return value


def rows(dsn: str) -> dict[str, list[str]]:
    """Every row of release 0.1.0's tables in 0.1.0's columns, as sorted JSON text (superuser:
    no RLS)."""
    with psycopg.connect(dsn) as conn:
        return {
            name: sorted(
                json.dumps(as_released(row[0]), sort_keys=True)
                for row in conn.execute(
                    sql.SQL("SELECT to_jsonb(t) FROM {} t").format(
                        sql.Identifier("scripts_es", name)
                    )
                )
            )
            for name in TABLES_0_1_0
        }


def write_with_release_0_1_0(python: Path, dsn: str) -> dict[str, Any]:
    ran = subprocess.run(
        [str(python), str(WRITER), dsn],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=python.parent,
        env={"PATH": "/usr/bin:/bin", "HOME": str(python.parent)},
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    written: dict[str, Any] = json.loads(ran.stdout)
    assert "release-0.1.0" in written["release"], written["release"]  # not today's code
    return written


def test_a_0_1_0_database_with_data_upgrades_with_nothing_lost(
    release_python: Path, empty_database: Callable[[], str]
) -> None:
    dsn = empty_database()
    written = write_with_release_0_1_0(release_python, dsn)
    before = rows(dsn)
    assert all(before[name] for name in TABLES_0_1_0 if name != "projection_tracking")

    with ScriptsModule.open(dsn) as module:  # install=True: applies the migrations
        with psycopg.connect(dsn) as conn:
            assert migrations.database_version(conn) == migrations.code_version()
        assert rows(dsn) == before  # every row of every table, value for value
        with psycopg.connect(dsn) as conn:  # executions learnt when they were queued
            missing = conn.execute(
                "SELECT count(*) FROM scripts_es.executions WHERE queued_at IS NULL"
            ).fetchone()
            assert missing == (0,)

        # Events written by 0.1.0 get feed positions too, densely, in commit order (other
        # tests' transactions on the server may hold the horizon a while).
        deadline = time.monotonic() + 60
        while len(feed := module.feed().read(0, 100_000)) < len(before["events"]):
            assert time.monotonic() < deadline, "the 0.1.0 events got no feed positions"
            time.sleep(0.05)
        assert [e.position for e in feed] == list(range(1, len(before["events"]) + 1))

        for command in written["answered"]:  # every stored result replays unchanged
            t = module.tenant(UUID(command["tenant_id"]), UUID(command["user_id"]))
            replayed = t.handle(getattr(c, command["command"])(**command["payload"]))
            dumped = replayed.model_dump(mode="json")
            assert as_released(dumped) == command["result"], command["command"]

        live: list[Script] = []
        for script_id, where in written["scripts"].items():
            t = module.tenant(UUID(where["tenant_id"]), uuid4())
            try:
                script = t.scripts.find_by_id(UUID(script_id))
            except NotFound:
                continue  # the deleted one
            live.append(script)
            history = t.scripts.get_version_history(script.id)
            assert history[-1].version == script.version
            for info in history:
                assert t.scripts.get_version(script.id, info.version).version == info.version
            if history[0].version > 1:
                with pytest.raises(VersionPruned):
                    t.scripts.get_version(script.id, history[0].version - 1)
        assert len(live) == 8
        for execution_id, where in written["executions"].items():
            t = module.tenant(UUID(where["tenant_id"]), uuid4())
            assert t.executions.find_by_id(UUID(execution_id)).id == UUID(execution_id)
        assert module.verify_projections().ok
        # Its enabled cron scripts got a schedule from the upgrade: the scheduler sees them.
        crons = {s.id for s in live if s.type is ScriptType.CRON and s.is_enabled}
        due = module.due(datetime.now(UTC) + timedelta(days=400), limit=1000)
        assert crons and crons <= {d.script_id for d in due}

        # New commands work on the upgraded database, with today's guarantees.
        cron = next(s for s in live if s.type is ScriptType.CRON)
        t = module.tenant(cron.tenant_id, uuid4())
        stale = t.scripts.find_by_id(cron.id)
        t.handle(c.UpdateScriptContent(script_id=cron.id, content="after the upgrade"))
        t.scripts.prune_version_history(cron.id, VersionRetentionPolicy(max_versions=1))
        with pytest.raises(ConcurrencyConflict):
            t.scripts.update(stale.update_content("stale", uuid4()))
        hook = t.handle(create_command(ScriptType.HTTP))  # /hooks/orders was released by 0.1.0
        run = t.handle(c.StartExecution(script_id=hook.id, trigger={"type": "api"}))
        t.handle(c.CompleteExecution(execution_id=run.id, status="completed"))
        module.rebuild_projections()
        assert module.verify_projections().ok

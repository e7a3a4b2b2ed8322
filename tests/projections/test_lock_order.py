"""The runner and rebuild/verify take the read-model tables' locks in one order: no deadlock."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest

from projections import runner, writer
from projections.tables import LIVE
from scripts_es import ScriptsModule
from scripts_es import commands as c
from tests.projections.support import assert_rebuild_reproduces_live_tables, catch_up


def paused(statement: str) -> str:
    """The runner's statement, pausing once it holds its locks on the read-model tables
    (taken when the statement starts), so that the rebuild's LOCK TABLE reliably lands in the
    window a real runner hits only now and then."""
    assert statement.startswith("WITH ") and statement.endswith("SELECT 1")
    body = statement.removeprefix("WITH ").removesuffix("SELECT 1")
    return f"WITH pause AS MATERIALIZED (SELECT pg_sleep(2.0)), {body}SELECT 1 FROM pause"


def test_a_rebuild_during_a_runner_batch_that_deletes_a_script_does_not_deadlock(
    dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ScriptsModule.open(dsn, install=False, inline_projections=False) as module:
        t = module.tenant(uuid.uuid4(), uuid.uuid4())
        script = t.handle(c.CreateScript(name="doomed", content="x", type="one_off"))
        t.handle(c.UpdateScriptContent(script_id=script.id, content="y"))
        catch_up(module)
        t.handle(c.DeleteScript(script_id=script.id))  # the next batch only deletes
        deleting = writer.statement(("script_remove",), LIVE)
        real = writer.statement
        monkeypatch.setattr(
            writer,
            "statement",
            lambda parts, tables=LIVE: (
                paused(deleting) if parts == ("script_remove",) else real(parts, tables)
            ),
        )

        errors: list[BaseException] = []

        def guarded(work: object) -> None:
            try:
                work()  # type: ignore[operator]
            except BaseException as error:
                errors.append(error)

        def one_batch_that_deletes() -> None:
            # The horizon is server-wide: another database's long transaction may hold the
            # delete back for a while, so ask until the batch has run.
            give_up = time.monotonic() + 60
            while not runner.run_batch(module.db, module.store, 500):
                assert time.monotonic() < give_up
                time.sleep(0.02)

        def rebuild_while_the_runner_pauses() -> None:
            with psycopg.connect(dsn, autocommit=True) as watch:
                give_up = time.monotonic() + 60
                while not watch.execute(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND query LIKE 'WITH pause AS%%'"
                ).fetchone()[0]:  # type: ignore[index]
                    assert time.monotonic() < give_up
                    time.sleep(0.01)
            module.rebuild_projections()

        threads = [
            threading.Thread(target=guarded, args=(one_batch_that_deletes,)),
            threading.Thread(target=guarded, args=(rebuild_while_the_runner_pauses,)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        if errors:
            raise errors[0]
        monkeypatch.undo()
        catch_up(module)
        assert t.scripts.count() == 0
        assert_rebuild_reproduces_live_tables(module, dsn)

"""A command that names no expected_version asked for no optimistic concurrency: when another
write moves its stream first, it is decided again on the new state, not refused."""

from __future__ import annotations

from uuid import UUID, uuid4

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.errors import ConcurrencyConflict
from tests.integration.races import errors_of, race, values_of
from tests.support.commands import create_command
from tests.support.fixtures import shared_dsn  # noqa: F401 (fixture)
from tests.support.raw import stream_versions

WRITERS = 4


def test_racing_updates_without_expected_version_all_land(dsn: str, tenant_id: UUID) -> None:
    modules = [ScriptsModule.open(dsn, install=False, pool_size=2) for _ in range(WRITERS)]
    try:
        script = modules[0].tenant(tenant_id, uuid4()).handle(create_command())
        for round_ in range(5):

            def update(i: int, r: int = round_) -> object:
                t = modules[i].tenant(tenant_id, uuid4())
                return t.handle(c.UpdateScriptContent(script_id=script.id, content=f"{r}/{i}"))

            outcomes = race(WRITERS, update)
            assert errors_of(outcomes) == []  # nobody is refused a write they never made
            assert len(values_of(outcomes)) == WRITERS
        assert stream_versions(dsn, script.id) == list(range(1, 2 + 5 * WRITERS))
        history = modules[0].tenant(tenant_id, uuid4()).scripts.get_version_history(script.id)
        assert len(history) == 1 + 5 * WRITERS
    finally:
        for module in modules:
            module.close()


def test_racing_updates_that_expect_a_version_still_conflict(dsn: str, tenant_id: UUID) -> None:
    modules = [ScriptsModule.open(dsn, install=False, pool_size=2) for _ in range(WRITERS)]
    try:
        script = modules[0].tenant(tenant_id, uuid4()).handle(create_command())

        def update(i: int) -> object:
            t = modules[i].tenant(tenant_id, uuid4())
            command = c.UpdateScriptContent(
                script_id=script.id, content=f"{i}", expected_version=script.version
            )
            return t.handle(command)

        outcomes = race(WRITERS, update)
        assert len(values_of(outcomes)) == 1
        assert all(isinstance(e, ConcurrencyConflict) for e in errors_of(outcomes))
        assert stream_versions(dsn, script.id) == [1, 2]
    finally:
        for module in modules:
            module.close()

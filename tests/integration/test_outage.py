"""Transient outages: the module's connections die under it (DESIGN §6).

A command is retried; if it cannot succeed it raises StorageUnavailable and has written nothing.
"""

from __future__ import annotations

import threading
import time
from uuid import UUID

import psycopg

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import Script
from scripts_es.errors import StorageUnavailable
from tests.integration.races import Outcome, attempt
from tests.support.commands import create_command
from tests.support.raw import raw, row_counts, stream_versions, terminate_module_connections


def _fill_the_pool(module: ScriptsModule, tenant_id: UUID, size: int = 8) -> None:
    """Make the pool hold `size` open connections (all checked out at once, then returned)."""
    barrier = threading.Barrier(size)

    def hold() -> None:
        with module.db.tenant(tenant_id):
            barrier.wait(timeout=10)

    threads = [threading.Thread(target=hold, daemon=True) for _ in range(size)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)


def _read_until_it_works(t: TenantSession, script: Script, tries: int = 20) -> Script:
    for _ in range(tries):
        try:
            return t.scripts.find_by_id(script.id)
        except StorageUnavailable:
            continue
    raise AssertionError(f"the module did not recover within {tries} calls")


def test_a_command_after_its_connection_was_terminated_is_retried_and_succeeds(
    tenant: TenantSession, dsn: str
) -> None:
    script = tenant.handle(create_command())
    assert terminate_module_connections(dsn) >= 1
    updated = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="after"))
    assert updated.version == 2
    assert stream_versions(dsn, script.id) == [1, 2]
    assert tenant.scripts.find_by_id(script.id) == updated


def test_a_command_after_every_pooled_connection_died_succeeds_or_fails_cleanly(
    module: ScriptsModule, tenant: TenantSession, tenant_id: UUID, dsn: str
) -> None:
    script = tenant.handle(create_command())
    _fill_the_pool(module, tenant_id)
    assert terminate_module_connections(dsn) >= 8
    before = row_counts(dsn)
    try:
        updated = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="after"))
    except StorageUnavailable as error:
        assert "unavailable" in str(error)
        assert row_counts(dsn) == before, "a failed command must not have written anything"
        assert stream_versions(dsn, script.id) == [1]
    else:
        assert updated.version == 2
        assert stream_versions(dsn, script.id) == [1, 2]
    # Either way the module recovers on its own, and the next command works.
    current = _read_until_it_works(tenant, script)
    again = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="later"))
    assert again.version == current.version + 1


def test_a_command_whose_connection_dies_mid_transaction_is_applied_exactly_once(
    tenant: TenantSession, dsn: str
) -> None:
    script = tenant.handle(create_command())
    outcome: list[Outcome[Script]] = []

    def update() -> None:
        command = c.UpdateScriptContent(script_id=script.id, content="x")
        outcome.append(attempt(lambda: tenant.handle(command)))

    with raw(dsn) as watcher, psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE scripts_es.events IN EXCLUSIVE MODE")  # appends wait
        thread = threading.Thread(target=update, daemon=True)
        thread.start()
        victims: list[tuple[int]] = []
        deadline = time.monotonic() + 10
        while not victims and time.monotonic() < deadline:
            victims = watcher.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND application_name = 'scripts-es' AND wait_event_type = 'Lock'"
            ).fetchall()
            time.sleep(0.01)
        assert victims, "the command never reached its append"
        for (pid,) in victims:
            watcher.execute("SELECT pg_terminate_backend(%s)", (pid,))
        locker.rollback()
    thread.join(30)
    (result,) = outcome
    if result.ok:
        assert result.value is not None and result.value.version == 2
        assert stream_versions(dsn, script.id) == [1, 2]
    else:
        assert isinstance(result.error, StorageUnavailable), result.error
        assert stream_versions(dsn, script.id) == [1]
    assert _read_until_it_works(tenant, script).version == len(stream_versions(dsn, script.id))


def test_a_read_right_after_an_outage_is_retried(tenant: TenantSession, dsn: str) -> None:
    script = tenant.handle(create_command())
    terminate_module_connections(dsn)
    assert tenant.scripts.find_by_id(script.id) == script


def test_a_command_succeeds_after_an_outage_that_killed_a_full_pool(
    module: ScriptsModule, tenant: TenantSession, tenant_id: UUID, dsn: str
) -> None:
    script = tenant.handle(create_command())
    _fill_the_pool(module, tenant_id)
    terminate_module_connections(dsn)
    updated = tenant.handle(c.UpdateScriptContent(script_id=script.id, content="after"))
    assert updated.version == 2

"""Schema versions: fresh installs, upgrades under an advisory lock, refusal of other versions."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

from scripts_es import ScriptsModule
from scripts_es.errors import SchemaVersionMismatch
from scripts_es.module import schema_status, upgrade_schema
from scripts_es.store import migrations
from scripts_es.store.sql import schema_sql
from tests.migrations.catalog import catalog, differences

LATEST = migrations.code_version()


def release_0_1_0(dsn: str) -> None:
    """The schema exactly as release 0.1.0 installed it (its digest table included)."""
    with psycopg.connect(dsn) as conn:
        conn.execute(migrations.migrations()[0].sql().encode())
        conn.execute(
            "INSERT INTO scripts_es.schema_meta (id, digest, installed_at) "
            "VALUES (1, 'digest of 0.1.0', now())"
        )


def recorded(dsn: str) -> list[int]:
    with psycopg.connect(dsn) as conn:
        return [row[0] for row in conn.execute("SELECT version FROM scripts_es.schema_version")]


def test_a_fresh_database_is_installed_at_the_code_version(
    empty_database: Callable[[], str],
) -> None:
    dsn = empty_database()
    assert schema_status(dsn).database_version is None
    status = upgrade_schema(dsn)
    assert (status.database_version, status.code_version, status.pending) == (LATEST, LATEST, ())
    assert sorted(recorded(dsn)) == list(range(1, LATEST + 1))


def test_a_release_0_1_0_database_is_version_1_and_upgrades_to_the_full_schema(
    empty_database: Callable[[], str],
) -> None:
    old, fresh = empty_database(), empty_database()
    release_0_1_0(old)
    status = schema_status(old)
    assert status.database_version == 1
    assert [m.version for m in status.pending] == list(range(2, LATEST + 1))
    upgrade_schema(old)
    assert schema_status(old).database_version == LATEST
    assert sorted(recorded(old)) == list(range(1, LATEST + 1))
    with psycopg.connect(fresh) as conn:
        conn.execute(schema_sql().encode())
    assert differences(catalog(old), catalog(fresh)) == {}


def test_opening_without_install_refuses_an_older_schema_and_says_what_to_run(
    empty_database: Callable[[], str],
) -> None:
    dsn = empty_database()
    release_0_1_0(dsn)
    with pytest.raises(SchemaVersionMismatch, match="db upgrade") as raised:
        ScriptsModule.open(dsn, install=False)
    assert (raised.value.database_version, raised.value.code_version) == (1, LATEST)


def test_a_database_newer_than_the_code_is_refused_naming_both_versions(
    empty_database: Callable[[], str],
) -> None:
    dsn = empty_database()
    upgrade_schema(dsn)
    with psycopg.connect(dsn) as conn:
        conn.execute(
            "INSERT INTO scripts_es.schema_version (version, name) VALUES (%s, 'future')",
            (LATEST + 7,),
        )
    for install in (False, True):
        with pytest.raises(SchemaVersionMismatch) as raised:
            ScriptsModule.open(dsn, install=install)
        assert str(LATEST + 7) in str(raised.value) and str(LATEST) in str(raised.value)
        assert raised.value.database_version == LATEST + 7


def test_two_upgraders_at_once_one_upgrades_the_other_waits_and_finds_nothing_to_do(
    empty_database: Callable[[], str],
) -> None:
    dsn = empty_database()
    release_0_1_0(dsn)
    start = threading.Barrier(2)
    results: list[Any] = []

    def upgrade() -> None:
        start.wait(10)
        try:
            results.append(migrations.upgrade(dsn))
        except BaseException as error:
            results.append(error)

    threads = [threading.Thread(target=upgrade) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(results, key=repr) == [(1, LATEST), (LATEST, LATEST)]
    assert sorted(recorded(dsn)) == list(range(1, LATEST + 1))


def test_db_status_and_db_upgrade_report_versions_as_json(
    run: Any, empty_database: Callable[[], str]
) -> None:
    dsn = empty_database()
    release_0_1_0(dsn)
    before = run("--json", "db", "status", "--dsn", dsn)
    assert before.code == 0, before.err
    assert before.json()["database_version"] == 1
    assert before.json()["up_to_date"] is False
    assert len(before.json()["pending"]) == LATEST - 1
    upgraded = run("--json", "db", "upgrade", "--dsn", dsn)
    assert upgraded.code == 0, upgraded.err
    assert upgraded.json()["upgraded_from"] == 1
    assert upgraded.json()["database_version"] == LATEST
    after = run("db", "status", "--dsn", dsn)
    assert after.code == 0 and "none" in after.out

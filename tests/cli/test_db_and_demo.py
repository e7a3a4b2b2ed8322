"""`db install` and `demo` against a real (throwaway) database."""

from __future__ import annotations

from typing import Any

from tests.support.cli import run_process

SECTIONS = [
    "Two tenants",
    "Scripts of every type",
    "Changes are events",
    "Executions",
    "Running scripts",
    "Rules that hold",
    "Version history and time travel",
    "Pruning history",
    "Find and count (Acme)",
    "Tenant isolation",
    "Delete",
    "Done",
]


def test_db_install_is_idempotent(run: Any, dsn: str) -> None:
    assert run("db", "install", "--dsn", dsn).code == 0
    again = run("--json", "--dsn", dsn, "db", "install")
    assert again.code == 0
    assert again.json() == {"installed": True}


def test_the_demo_tells_the_whole_story(run: Any, dsn: str) -> None:
    ran = run("demo", "--dsn", dsn)
    assert ran.code == 0, ran.err
    assert ran.err == ""
    positions = [ran.out.index(f"{n}. {title}") for n, title in enumerate(SECTIONS, start=1)]
    assert positions == sorted(positions)
    for shown in (
        "cron", "http", "one_off", "embedded",  # every script type
        "completed", "failed", "timeout", "pending -> running -> timeout",
        "POST /hooks/orders -> orders-webhook", "fired by two schedulers: one execution",
        "worker-1", "worker-2", "The sweep timed out 1 run", "InvalidTransition",
        "RouteConflict", "ConcurrencyConflict", "InvalidTransition", "InvalidInput",
        "applied once", "get_version(id, 1)", "VersionPruned", "versions 3, 4",
        "NotFound", "released its route",
    ):  # fmt: skip
        assert shown in ran.out, shown


def test_the_demo_runs_again_on_the_same_database_and_speaks_json(run: Any, dsn: str) -> None:
    first = run("--dsn", dsn, "--json", "demo").json()
    second = run("--dsn", dsn, "demo", "--json").json()
    assert [s["title"] for s in first["sections"]] == SECTIONS
    assert first["tenants"] != second["tenants"]
    by_title = {s["title"]: s for s in second["sections"]}
    statuses = {e["status"] for e in by_title["Executions"]["executions"]}
    assert statuses == {"completed", "failed", "timeout"}
    outcomes = [a["outcome"] for a in by_title["Tenant isolation"]["attempts"]]
    assert outcomes.count("NotFound") == 4
    assert by_title["Version history and time travel"]["current"]["version"] == 4
    assert by_title["Pruning history"]["kept"] == [3, 4]
    assert by_title["Done"]["live_scripts"] == {"Acme": 6, "Globex": 2}
    running = by_title["Running scripts"]
    assert len(set(running["fired"])) == 1 and len(running["claims"]) == 2
    assert len({claim["execution"] for claim in running["claims"]}) == 2
    assert len(running["timed_out"]) == 1 and running["late_completion"] == ["InvalidTransition"]


def test_the_demo_as_a_subprocess(dsn: str) -> None:
    ran = run_process("demo", "--dsn", dsn)
    assert ran.code == 0, ran.err
    assert "Tenant isolation" in ran.out
    assert ran.err == ""

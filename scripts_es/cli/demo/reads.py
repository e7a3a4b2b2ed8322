"""Chapters 8-10: find and count, tenant isolation, delete."""

from __future__ import annotations

from scripts_es import commands
from scripts_es.cli.demo.story import Attempt, Section, Story, attempt
from scripts_es.cli.demo.views import attempt_row, attempts_table
from scripts_es.cli.output import grid
from scripts_es.domain import ScriptType
from scripts_es.queries import ScriptFindParams


def find(story: Story) -> Section:
    """Chapter 7: find and count, served by the read model (projection tables)."""
    queries: list[tuple[str, ScriptFindParams]] = [
        ("everything", ScriptFindParams()),
        ("type = http", ScriptFindParams(type=ScriptType.HTTP)),
        ("tags_any = (orders,)", ScriptFindParams(tags_any=("orders",))),
        ("enabled = False", ScriptFindParams(enabled=False)),
        ('search = "REPORT"', ScriptFindParams(search="REPORT")),
        (
            "sort name asc, limit 2, offset 1",
            ScriptFindParams(sort=(("name", "asc"),), limit=2, offset=1),
        ),
    ]
    rows, data = [], []
    for label, params in queries:
        found = story.alice.scripts.find(params)
        count = story.alice.scripts.count(params)
        names = [s.name for s in found]
        rows.append((label, count, ", ".join(names)))
        data.append({"query": label, "count": count, "found": names})
    return Section(
        "Find and count (Acme)",
        "tenant.scripts.find(ScriptFindParams(...)) and count(...) read the projection tables, "
        "never the event streams, and see every write made before them. count ignores "
        "limit and offset.",
        grid(None, ["ScriptFindParams", "count", "find ->"], rows),
        {"queries": data},
    )


def isolate(story: Story) -> Section:
    """Chapter 8: Globex cannot see or touch Acme's scripts, and the other way round."""
    acme_script = story.scripts["nightly-report"].id
    acme_run = story.runs["nightly-report"].id
    gina = story.gina
    tried: list[Attempt] = [
        attempt("gina", "find_by_id(Acme's nightly-report)",
                lambda: gina.scripts.find_by_id(acme_script), "found it"),
        attempt("gina", "update Acme's nightly-report",
                lambda: gina.handle(
                    commands.UpdateScriptContent(script_id=acme_script, content="x")),
                "updated it"),
        attempt("gina", "find_by_id(Acme's nightly run)",
                lambda: gina.executions.find_by_id(acme_run), "found it"),
        attempt("alice", "find_by_id(Globex's orders-webhook)",
                lambda: story.alice.scripts.find_by_id(story.scripts["globex/orders-webhook"].id),
                "found it"),
        Attempt("gina", "find() all scripts", "ok",
                "sees " + ", ".join(s.name for s in gina.scripts.find()), refused=False),
        Attempt("gina", "find_for_script(Acme's nightly-report)", "ok",
                f"sees {len(gina.executions.find_for_script(acme_script))} executions",
                refused=False),
    ]  # fmt: skip
    return Section(
        "Tenant isolation",
        "Another tenant's script is simply not there: NotFound, never a leak. PostgreSQL "
        "enforces it with row-level security on every tenant table, on top of the tenant "
        "filter in every query.",
        attempts_table("Across tenants", tried),
        {"attempts": [attempt_row(a) for a in tried]},
    )


def delete(story: Story) -> Section:
    """Chapter 9: a deleted script is gone from reads, its runs stay, its route is free."""
    health = story.scripts["health"]
    alice = story.alice
    before = alice.scripts.count()
    alice.handle(commands.DeleteScript(script_id=health.id))
    story.clock.tick(60)
    run = alice.executions.find_by_id(story.runs["health"].id)
    tried: list[Attempt] = [
        attempt("alice", "find_by_id(health)", lambda: alice.scripts.find_by_id(health.id),
                "found it"),
        attempt("alice", "enable health again",
                lambda: alice.handle(commands.EnableScript(script_id=health.id)), "enabled"),
        Attempt("alice", "find_by_id(health's last run)", "ok",
                f"still readable: {run.status.value}, ran v{run.script_version}", refused=False),
        Attempt("alice", "count()", "ok", f"{alice.scripts.count()} scripts (was {before})",
                refused=False),
        attempt("alice", "create health-v2 on GET /health",
                lambda: alice.handle(commands.CreateScript(
                    name="health-v2", type=ScriptType.HTTP, content="return 'ok'\n",
                    metadata={"path": "/health", "method": "GET"})),
                "created: the deleted script released its route"),
    ]  # fmt: skip
    return Section(
        "Delete",
        "DeleteScript appends ScriptDeleted: the script disappears from every read and refuses "
        "every command, its executions stay readable by id, and its HTTP route is free again.",
        attempts_table("After DeleteScript(health)", tried),
        {"attempts": [attempt_row(a) for a in tried]},
    )

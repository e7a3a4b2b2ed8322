"""`scripts-es demo`: a guided tour of the module on a real database, safe to run repeatedly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from psycopg.conninfo import conninfo_to_dict
from rich.console import Group
from rich.rule import Rule
from rich.text import Text

from scripts_es import ScriptsModule
from scripts_es.cli.demo import dispatch, history, reads, rules, runs, writes
from scripts_es.cli.demo.story import Section, Story
from scripts_es.cli.output import Output, grid

Chapter = Callable[[Story], Section]
CHAPTERS: list[Chapter] = [
    writes.create,
    writes.change,
    runs.execute,
    dispatch.run_scripts,
    rules.refuse,
    history.travel,
    history.prune,
    reads.find,
    reads.isolate,
    reads.delete,
]


def run(module: ScriptsModule, out: Output) -> None:
    """Play every chapter against `module`, printing each as it happens (or one JSON document)."""
    story = Story.begin(module)
    sections: list[dict[str, Any]] = []
    for number, section in enumerate(_play(story, describe(module.db.dsn)), start=1):
        if out.as_json:
            sections.append({"title": section.title, **section.data})
        else:
            out.show(_render(number, section))
    if out.as_json:
        out.emit({"tenants": {"Acme": story.acme, "Globex": story.globex}, "sections": sections})


def _play(story: Story, database: str) -> Iterator[Section]:
    yield writes.meet(story, database)
    for chapter in CHAPTERS:
        yield chapter(story)
    yield _next_steps(story)


def _render(number: int, section: Section) -> Group:
    return Group(
        Rule(f"[bold]{number}. {section.title}[/bold]", align="left", style="blue"),
        Text(section.lead, style="italic"),
        section.view,
        Text(""),
    )


def _next_steps(story: Story) -> Section:
    rows = [
        ("Acme", story.alice.scripts.count()),
        ("Globex", story.gina.scripts.count()),
    ]
    tips = [
        "scripts-es projections verify",
        f"scripts-es prune scripts --max-versions 2 --tenant {story.acme} --dry-run",
        "scripts-es demo --json",
    ]
    view = Group(
        grid(None, ["tenant", "live scripts"], rows),
        Text("Try next:", style="bold"),
        *(Text(f"  $ {tip}", style="green") for tip in tips),
    )
    return Section(
        "Done",
        "Everything above is stored in the database: run the demo again for two more tenants.",
        view,
        {"live_scripts": dict(rows), "try_next": tips},
    )


def describe(dsn: str) -> str:
    """Where the database is, without the password."""
    try:
        parts = conninfo_to_dict(dsn)
    except Exception:  # a DSN libpq accepted but this parser does not: show nothing secret
        return "(configured DSN)"
    host = str(parts.get("host") or "localhost")
    place = f"socket {host}" if host.startswith("/") else f"{host}:{parts.get('port') or 5432}"
    return f"{parts.get('dbname') or '?'} as {parts.get('user') or '?'} on {place}"

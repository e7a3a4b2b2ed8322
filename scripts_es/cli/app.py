"""The typer app: global options, `db install`, `demo`, and the maintenance command groups."""

from __future__ import annotations

import typer

from scripts_es.cli import demo as demo_story
from scripts_es.cli import maintenance, running
from scripts_es.cli.options import DsnOption, JsonOption, Settings, opened, output, settings
from scripts_es.cli.output import key_values
from scripts_es.module import schema_status, upgrade_schema
from scripts_es.store.migrations import SchemaStatus

app = typer.Typer(
    name="scripts-es",
    help="Event-sourced scripts and executions on PostgreSQL: demo, schema, projections, pruning, "
    "scheduling.",
    epilog="Exit codes: 0 ok; 1 failure (database unreachable, drift found by verify, ...); "
    "2 usage error.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(maintenance.projections_app, name="projections")
app.add_typer(maintenance.prune_app, name="prune")
app.add_typer(running.scheduler_app, name="scheduler")
app.add_typer(running.executions_app, name="executions")


@app.callback()
def root(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Global options; they may also be given after the command name."""
    ctx.obj = Settings(dsn=dsn, as_json=as_json)


@db_app.command("install")
def db_install(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Create the schema and roles, or bring an existing one up to date; safe to run again.

    Run it with the owner's login (it creates roles, tables, policies and grants)."""
    chosen = settings(ctx, dsn, as_json)
    status = upgrade_schema(chosen.dsn)
    output(chosen).result(
        {"installed": True},
        lambda: key_values("Schema", [("installed", f"yes (version {status.code_version})")]),
    )


@db_app.command("upgrade")
def db_upgrade(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Apply the pending migrations in one transaction (one upgrader at a time)."""
    chosen = settings(ctx, dsn, as_json)
    before = schema_status(chosen.dsn).database_version
    _show(chosen, "Schema upgrade", upgrade_schema(chosen.dsn), upgraded_from=(before,))


@db_app.command("status")
def db_status(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """The database's schema version, the code's, and the migrations still pending."""
    chosen = settings(ctx, dsn, as_json)
    _show(chosen, "Schema", schema_status(chosen.dsn))


def _show(
    chosen: Settings,
    title: str,
    status: SchemaStatus,
    *,
    upgraded_from: tuple[int | None] | None = None,
) -> None:
    """Render a schema status; `upgraded_from` holds the version before an upgrade."""
    document = status.as_dict()
    rows: list[tuple[str, object]] = [
        ("database version", status.database_version or "not installed"),
        ("code version", status.code_version),
        ("pending", ", ".join(document["pending"]) or "none"),
    ]
    if upgraded_from is not None:
        (before,) = upgraded_from
        document["upgraded_from"] = before
        rows.insert(0, ("upgraded from", "not installed" if before is None else before))
    output(chosen).result(document, lambda: key_values(title, rows))


@app.command("demo")
def demo(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """A guided tour: two tenants, every script type, executions, history, isolation."""
    chosen = settings(ctx, dsn, as_json)
    with opened(chosen, install=True) as module:
        demo_story.run(module, output(chosen))

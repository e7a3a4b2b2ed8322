"""The typer app: global options, `db install`, `demo`, and the maintenance command groups."""

from __future__ import annotations

import typer

from scripts_es.cli import demo as demo_story
from scripts_es.cli import maintenance
from scripts_es.cli.options import DsnOption, JsonOption, Settings, opened, output, settings
from scripts_es.cli.output import key_values

app = typer.Typer(
    name="scripts-es",
    help="Event-sourced scripts and executions on PostgreSQL: demo, schema, projections, pruning.",
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


@app.callback()
def root(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Global options; they may also be given after the command name."""
    ctx.obj = Settings(dsn=dsn, as_json=as_json)


@db_app.command("install")
def db_install(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Apply the schema (tables, roles, row-level security); safe to run again."""
    chosen = settings(ctx, dsn, as_json)
    with opened(chosen, install=True):
        pass
    out = output(chosen)
    out.result(
        {"installed": True}, lambda: key_values("Schema", [("installed", "yes (idempotent)")])
    )


@app.command("demo")
def demo(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """A guided tour: two tenants, every script type, executions, history, isolation."""
    chosen = settings(ctx, dsn, as_json)
    with opened(chosen, install=True) as module:
        demo_story.run(module, output(chosen))

"""Options every command shares (--dsn, --json), and opening the module they point at."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Annotated
from uuid import UUID

import typer

from scripts_es import ScriptsModule
from scripts_es.cli.output import Output

DSN_HELP = (
    "PostgreSQL connection string. Default: $SCRIPTS_ES_DSN, else an embedded PostgreSQL "
    "in $SCRIPTS_ES_DATA_DIR (or a per-user data directory)."
)
JSON_HELP = "Print one JSON document on stdout instead of tables."

DsnOption = Annotated[str | None, typer.Option("--dsn", metavar="DSN", help=DSN_HELP)]
JsonOption = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
TenantOption = Annotated[
    UUID | None,
    typer.Option("--tenant", metavar="UUID", help="Only this tenant (default: all tenants)."),
]
DryRunOption = Annotated[
    bool, typer.Option("--dry-run", help="Report what would be removed; change nothing.")
]


@dataclass(frozen=True)
class Settings:
    """The global options, given before the command or after it (the later one wins)."""

    dsn: str | None = None
    as_json: bool = False


def settings(ctx: typer.Context, dsn: str | None, as_json: bool) -> Settings:
    """Merge a command's own --dsn/--json with the ones given before the command name."""
    root = ctx.find_root().obj
    base = root if isinstance(root, Settings) else Settings()
    return Settings(dsn=dsn or base.dsn, as_json=as_json or base.as_json)


@contextmanager
def opened(chosen: Settings, *, install: bool = False) -> Iterator[ScriptsModule]:
    """The module on the chosen database, closed afterwards.

    Maintenance commands do not install the schema: installing re-applies row-level security
    and policies, which takes ACCESS EXCLUSIVE locks on live tables.
    """
    with ScriptsModule.open(chosen.dsn, install=install) as module:
        yield module


def output(chosen: Settings) -> Output:
    """The renderer for the chosen output mode."""
    return Output(as_json=chosen.as_json)

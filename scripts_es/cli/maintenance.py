"""Operator commands: `projections status|run|rebuild|verify`, `prune scripts|executions`."""

from __future__ import annotations

from typing import Annotated

import typer

from projections.runner import MAX_BATCH
from scripts_es.cli import views
from scripts_es.cli.options import (
    DryRunOption,
    DsnOption,
    JsonOption,
    TenantOption,
    opened,
    output,
    settings,
)
from scripts_es.cli.signals import stop_on_signal
from scripts_es.domain import VersionRetentionPolicy
from scripts_es.domain.validation import MAX_BIGINT, MAX_DAYS

projections_app = typer.Typer(
    help="The read model: status, follow, rebuild, verify.", no_args_is_help=True
)

prune_app = typer.Typer(
    help="Retention: prune old script history and old executions.", no_args_is_help=True
)


@projections_app.command("status")
def status(ctx: typer.Context, dsn: DsnOption = None, as_json: JsonOption = False) -> None:
    """Position and lag of the projection runner and of the feed's registered consumers, and
    what holds the feed back, if anything."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    with opened(chosen) as module:
        rows = module.projection_status()
        consumers = module.feed().consumers()
    out.result(
        {"projections": rows, "feed_consumers": consumers},
        lambda: views.projection_status(rows, consumers),
    )


@projections_app.command("run")
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Stop when caught up.")] = False,
    batch_size: Annotated[
        int, typer.Option("--batch-size", min=1, max=MAX_BATCH, help="Events per batch.")
    ] = 500,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Follow new events into the read model until Ctrl-C (or, with --once, until caught up)."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    seen = [0]

    def batch_done(events: int) -> None:
        seen[0] += events
        out.show(f"applied {events} events ({seen[0]} so far)")

    with opened(chosen) as module, stop_on_signal() as stop:
        if not once:
            out.show("[dim]Following new events; Ctrl-C or SIGTERM stops it.[/dim]")
        report = module.run_projections(
            once=once, batch_size=batch_size, stop=stop, progress=batch_done
        )
    out.result(report, lambda: views.run_report(report, once=once))


@projections_app.command("rebuild")
def rebuild(
    ctx: typer.Context,
    tenant: TenantOption = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild the read model from the event store (live tables stay readable meanwhile)."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    with opened(chosen) as module, out.progress("Rebuilding") as progress:
        report = module.rebuild_projections(tenant_id=tenant, progress=progress)
    out.result(report, lambda: views.rebuild_report(report))


@projections_app.command("verify")
def verify(
    ctx: typer.Context,
    tenant: TenantOption = None,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Rebuild into scratch tables and diff them against the live ones; exit 1 on drift."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    with opened(chosen) as module, out.progress("Verifying") as progress:
        report = module.verify_projections(tenant_id=tenant, progress=progress)
    out.result(report, lambda: views.verify_report(report))
    if not report.ok:
        raise typer.Exit(1)


@prune_app.command("scripts")
def prune_scripts(
    ctx: typer.Context,
    max_versions: Annotated[
        int | None,
        typer.Option(
            "--max-versions",
            min=1,
            max=MAX_BIGINT,
            metavar="N",
            help="Keep the newest N versions.",
        ),
    ] = None,
    retention_days: Annotated[
        int | None,
        typer.Option(
            "--retention-days",
            min=1,
            max=MAX_DAYS,
            metavar="D",
            help=f"Keep versions younger than D days (at most {MAX_DAYS}).",
        ),
    ] = None,
    tenant: TenantOption = None,
    dry_run: DryRunOption = False,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Prune script history under a retention policy (snapshot, then truncate; state unchanged)."""
    if max_versions is None and retention_days is None:
        raise typer.BadParameter(
            "give --max-versions, --retention-days or both",
            param_hint="'--max-versions' / '--retention-days'",
        )
    policy = VersionRetentionPolicy(max_versions=max_versions, retention_days=retention_days)
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    with opened(chosen) as module, out.progress("Pruning scripts") as progress:
        summary = module.prune_scripts(policy, tenant_id=tenant, dry_run=dry_run, progress=progress)
    out.result(summary, lambda: views.prune_summary("Script history", summary))


@prune_app.command("executions")
def prune_executions(
    ctx: typer.Context,
    older_than_days: Annotated[
        int,
        typer.Option(
            "--older-than-days",
            min=0,
            max=MAX_DAYS,
            metavar="D",
            help=f"Remove terminal runs older than D days (at most {MAX_DAYS}).",
        ),
    ],
    keep_last: Annotated[
        int,
        typer.Option(
            "--keep-last",
            min=0,
            max=MAX_BIGINT,
            metavar="N",
            help="Keep each script's newest N runs.",
        ),
    ] = 0,
    tenant: TenantOption = None,
    dry_run: DryRunOption = False,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Remove old finished executions (running and pending ones are never removed)."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    with opened(chosen) as module:
        summary = module.prune_executions(
            older_than_days, keep_last_per_script=keep_last, tenant_id=tenant, dry_run=dry_run
        )
    out.result(summary, lambda: views.prune_summary("Executions", summary))

"""Running scripts: `scheduler run` fires due cron slots; `executions sweep` times out lapsed
claims."""

from __future__ import annotations

from typing import Annotated

import typer

from scripts_es.cli import views
from scripts_es.cli.options import DsnOption, JsonOption, TenantOption, opened, output, settings
from scripts_es.cli.signals import stop_on_signal
from scripts_es.reports import SchedulerReport, SweepReport
from scripts_es.service.workers import MAX_BATCH

scheduler_app = typer.Typer(help="Fire the cron scripts' due slots.", no_args_is_help=True)
executions_app = typer.Typer(help="Executions: time out lapsed claims.", no_args_is_help=True)


@scheduler_app.command("run")
def run(
    ctx: typer.Context,
    once: Annotated[bool, typer.Option("--once", help="Fire what is due now, then stop.")] = False,
    tenant: TenantOption = None,
    interval: Annotated[
        float,
        typer.Option("--interval", min=0.1, max=3600, help="Seconds between rounds."),
    ] = 5.0,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Fire due cron slots until Ctrl-C or SIGTERM (or, with --once, what is due now).

    Several schedulers may run at once: each slot still fires exactly once."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)

    def fired(report: SchedulerReport) -> None:
        out.show(f"fired {report.fired} runs ({report.failed} could not fire)")

    with opened(chosen) as module, stop_on_signal() as stop:
        if not once:
            out.show("[dim]Firing due slots; Ctrl-C or SIGTERM stops it.[/dim]")
        report = module.run_scheduler(
            once=once, tenant_id=tenant, interval=interval, stop=stop, progress=fired
        )
    out.result(report, lambda: views.scheduler_report(report, once=once))


@executions_app.command("sweep")
def sweep(
    ctx: typer.Context,
    limit: Annotated[
        int, typer.Option("--limit", min=1, max=MAX_BATCH, help="Executions per sweep at most.")
    ] = MAX_BATCH,
    dsn: DsnOption = None,
    as_json: JsonOption = False,
) -> None:
    """Complete as `timeout` every running execution whose worker's lease lapsed."""
    chosen = settings(ctx, dsn, as_json)
    out = output(chosen)
    with opened(chosen) as module:
        swept = module.sweep(limit=limit)
    report = SweepReport(len(swept), [str(run.id) for run in swept])
    out.result(report, lambda: views.sweep_report(report))

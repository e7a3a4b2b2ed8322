"""Rich views of the maintenance reports (projections, pruning)."""

from __future__ import annotations

from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from scripts_es.cli.output import grid, human_bytes, key_values, when
from scripts_es.reports import (
    FeedConsumer,
    ProjectionStatus,
    PruneSummary,
    RebuildReport,
    RunReport,
    SchedulerReport,
    SweepReport,
    TableDrift,
    VerifyReport,
)


def projection_status(
    rows: list[ProjectionStatus], consumers: list[FeedConsumer] | None = None
) -> RenderableType:
    """Name, feed position and lag of each projection and registered feed consumer; what
    holds the feed back, if anything."""
    parts: list[RenderableType] = []
    if consumers:
        parts.append(
            grid(
                "Feed consumers",
                ["name", "position", "behind (positions)", "updated"],
                [(c.name, c.position, _lag(c.behind), when(c.updated_at)) for c in consumers],
            )
        )
    table = grid(
        "Projections",
        ["name", "feed position", "lag (events)", "updated"],
        [
            (
                row.name,
                row.position,
                _lag(row.lag_events),
                when(row.updated_at),
            )
            for row in rows
        ],
    )
    held = next((row.held_back for row in rows if row.held_back is not None), None)
    if held is not None:
        parts.append(Text(f"Held back: {held.describe()}", style="yellow"))
    return Group(table, *parts) if parts else table


def _lag(events: int) -> str:
    return "[green]0[/green]" if events == 0 else f"[yellow]{events}[/yellow]"


def run_report(report: RunReport, *, once: bool) -> RenderableType:
    """What a run of the projection runner applied."""
    verb = "Caught up" if once else "Stopped"
    batches = "batch" if report.batches == 1 else "batches"
    return Text(f"{verb}: applied {report.events} events in {report.batches} {batches}.")


def rebuild_report(report: RebuildReport) -> RenderableType:
    """Sizes and duration of a rebuild."""
    return key_values(
        f"Rebuilt read model ({report.tenant_id or 'all tenants'})",
        [
            ("events read", report.events),
            ("streams", report.streams),
            ("scripts", report.scripts),
            ("script versions", report.script_versions),
            ("executions", report.executions),
            ("seconds", f"{report.seconds:.2f}"),
        ],
    )


def verify_report(report: VerifyReport) -> RenderableType:
    """The per-table drift, and a verdict line."""
    table = grid(
        "Read model vs. a fresh rebuild",
        ["table", "missing / differing", "extra / differing"],
        [(d.table, _count(d.missing), _count(d.extra)) for d in report.tables],
    )
    samples = [Text(f"  {d.table} {line}") for d in report.tables for line in differences(d)]
    verdict = (
        Text("OK: the live tables match the event store.", style="green")
        if report.ok
        else Text("DRIFT: run `scripts-es projections rebuild` to repair.", style="bold red")
    )
    return Group(table, *samples, verdict)


def differences(drift: TableDrift, limit: int = 5) -> list[str]:
    """The sampled rows that differ, field by field: rebuilt (from events) vs. live."""
    rebuilt: dict[tuple[Any, ...], dict[str, Any]] = {}
    live: dict[tuple[Any, ...], dict[str, Any]] = {}
    for sample in drift.samples:
        row = sample.get("row")
        if isinstance(row, dict):
            side = rebuilt if sample.get("side") == "missing" else live
            side[_identity(row)] = row
    lines = []
    for key in sorted(rebuilt.keys() | live.keys(), key=str)[:limit]:
        label = "/".join(_short(part) for part in key if part is not None)
        ours, theirs = rebuilt.get(key), live.get(key)
        if ours is None:
            lines.append(f"{label}: only in the live table")
        elif theirs is None:
            lines.append(f"{label}: missing from the live table")
        else:
            changed = sorted(f for f in ours.keys() | theirs.keys() if ours.get(f) != theirs.get(f))
            shown = ", ".join(
                f"{f} live={theirs.get(f)!r} rebuilt={ours.get(f)!r}" for f in changed
            )
            lines.append(f"{label}: {shown}")
    return lines


def _short(part: Any) -> str:
    text = str(part)
    return text[:8] if len(text) == 36 else text  # a UUID: its first 8 digits tell rows apart


def _identity(row: dict[str, Any]) -> tuple[Any, ...]:
    if "script_id" in row and "id" not in row:  # a version row
        return (row.get("tenant_id"), row.get("script_id"), row.get("version"))
    return (row.get("tenant_id"), row.get("id"))


def _count(value: int) -> str:
    return "[green]0[/green]" if value == 0 else f"[bold red]{value}[/bold red]"


def prune_summary(what: str, summary: PruneSummary) -> RenderableType:
    """Totals of a prune (or of a dry run)."""
    title = f"{what} pruned" + (" (dry run: nothing changed)" if summary.dry_run else "")
    return key_values(
        title,
        [
            ("scripts touched", summary.scripts_touched),
            ("events removed", summary.events_removed),
            ("executions removed", summary.executions_removed),
            ("bytes freed", human_bytes(summary.bytes_freed)),
            ("skipped (gone meanwhile)", summary.skipped),
        ],
    )


def scheduler_report(report: SchedulerReport, *, once: bool) -> RenderableType:
    """What a scheduler run fired."""
    rows: list[tuple[str, Any]] = [
        ("rounds", report.rounds),
        ("runs fired", report.fired),
        ("slots skipped (misfires)", report.skipped_slots),
        ("could not fire", report.failed),
    ]
    title = "Scheduler: fired what was due" if once else "Scheduler stopped"
    table = key_values(title, rows)
    if not report.errors:
        return table
    return Group(table, *(Text(f"  {error}", style="yellow") for error in report.errors))


def sweep_report(report: SweepReport) -> RenderableType:
    """How many lapsed claims the sweep timed out."""
    return Text(f"Timed out {report.timed_out} executions whose lease lapsed.")

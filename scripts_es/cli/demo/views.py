"""Rich renderings of scripts, executions, history and attempts for the demo."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from rich.table import Table

from scripts_es.cli.demo.story import Attempt, Story
from scripts_es.cli.output import grid
from scripts_es.domain import (
    CronMetadata,
    Execution,
    ExecutionStatus,
    HTTPMetadata,
    Script,
)

STATUS_STYLE = {
    ExecutionStatus.PENDING: "dim",
    ExecutionStatus.RUNNING: "cyan",
    ExecutionStatus.COMPLETED: "green",
    ExecutionStatus.FAILED: "red",
    ExecutionStatus.TIMEOUT: "yellow",
}
UUID_PATTERN = re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b")
LEVEL_STYLE = {"debug": "dim", "info": "blue", "warning": "yellow", "error": "red"}


def short(value: UUID) -> str:
    """The first 8 hex digits of an id: enough to tell the demo's objects apart."""
    return str(value)[:8]


def shorten_ids(text: str) -> str:
    """Every UUID in `text` cut to its first 8 hex digits (for tables; JSON keeps them whole)."""
    return UUID_PATTERN.sub(lambda match: match.group(0)[:8] + "…", text)


def trigger(script: Script) -> str:
    """How a script is triggered: its schedule or its route."""
    meta = script.metadata
    if isinstance(meta, CronMetadata):
        return f"{meta.cron_expression} ({meta.timezone})"
    if isinstance(meta, HTTPMetadata):
        return f"{meta.method} {meta.path}"
    return "—"


def script_row(story: Story, script: Script) -> dict[str, Any]:
    """The JSON shape of a script in the demo's output."""
    return {
        "tenant": story.tenant_name(script.tenant_id),
        "id": script.id,
        "name": script.name,
        "type": script.type.value,
        "trigger": trigger(script),
        "version": script.version,
        "enabled": script.is_enabled,
        "tags": list(script.tags),
    }


def scripts_table(story: Story, scripts: Iterable[Script], title: str | None = None) -> Table:
    """Tenant, name, type, trigger, version, enabled, tags."""
    return grid(
        title,
        ["tenant", "id", "name", "type", "trigger", "v", "on", "tags"],
        [
            (
                story.tenant_name(s.tenant_id),
                short(s.id),
                f"[bold]{s.name}[/bold]",
                s.type.value,
                trigger(s),
                s.version,
                "[green]yes[/green]" if s.is_enabled else "[red]no[/red]",
                ", ".join(s.tags),
            )
            for s in scripts
        ],
        no_wrap={"name", "trigger"},
    )


def seconds(value: timedelta) -> str:
    """A duration in seconds, to the millisecond."""
    return f"{value.total_seconds():.3f} s"


def status(value: ExecutionStatus) -> str:
    """The status, coloured."""
    return f"[{STATUS_STYLE[value]}]{value.value}[/]"


def execution_row(story: Story, script: Script, run: Execution) -> dict[str, Any]:
    """The JSON shape of an execution in the demo's output."""
    result = run.result
    return {
        "id": run.id,
        "script": script.name,
        "script_version": run.script_version,
        "trigger": run.trigger.type.value,
        "triggered_by": story.who(run.trigger.triggered_by) if run.trigger.triggered_by else None,
        "status": run.status.value,
        "duration_seconds": run.duration.total_seconds(),
        "output": result.output if result else "",
        "error": result.error if result else "",
        "logs": [log.model_dump(mode="json") for log in result.logs] if result else [],
    }


def executions_table(story: Story, runs: Sequence[tuple[Script, Execution]]) -> Table:
    """Script, script version, trigger, status, duration, output or error."""
    rows = []
    for script, run in runs:
        result = run.result
        said = (result.error or result.output) if result else ""
        by = f" by {story.who(run.trigger.triggered_by)}" if run.trigger.triggered_by else ""
        rows.append(
            (
                short(run.id),
                script.name,
                f"v{run.script_version}",
                run.trigger.type.value + by,
                status(run.status),
                seconds(run.duration),
                said,
            )
        )
    headers = ["run", "script", "ran", "trigger", "status", "took", "output / error"]
    return grid("Executions", headers, rows, no_wrap={"script", "status", "took"})


def logs_table(runs: Sequence[tuple[Script, Execution]]) -> Table:
    """Every log line of the runs, in order."""
    rows = [
        (
            script.name,
            log.timestamp.strftime("%H:%M:%S.%f")[:-3],
            f"[{LEVEL_STYLE[log.level]}]{log.level}[/]",
            log.message,
        )
        for script, run in runs
        if run.result
        for log in run.result.logs
    ]
    return grid("Logs", ["script", "at (UTC)", "level", "message"], rows, no_wrap={"script"})


def attempts_table(title: str, attempts: Sequence[Attempt]) -> Table:
    """What was tried, by whom, and what the module answered."""
    rows = [
        (
            a.actor,
            a.action,
            f"[red]{a.outcome}[/red]" if a.refused else f"[green]{a.outcome}[/green]",
            shorten_ids(a.message),
        )
        for a in attempts
    ]
    return grid(title, ["who", "tried", "outcome", "message"], rows, no_wrap={"outcome"})


def attempt_row(a: Attempt) -> dict[str, Any]:
    """The JSON shape of an attempt."""
    return {"actor": a.actor, "action": a.action, "outcome": a.outcome, "message": a.message}

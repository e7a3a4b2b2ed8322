"""Chapters 4-5: executions that complete, fail and time out; the rules that refuse bad changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rich.console import Group
from rich.text import Text

from scripts_es import commands
from scripts_es.cli.demo.story import Section, Story
from scripts_es.cli.demo.views import (
    execution_row,
    executions_table,
    logs_table,
)
from scripts_es.domain import ExecutionStatus, TriggerType

CRON = commands.TriggerData(type=TriggerType.CRON)
API = commands.TriggerData(type=TriggerType.API)


def _logs(start: datetime, lines: list[tuple[float, str, str]]) -> list[dict[str, Any]]:
    return [
        {"timestamp": start + timedelta(seconds=at), "level": level, "message": message}
        for at, level, message in lines
    ]


def execute(story: Story) -> Section:
    """Chapter 4: four runs: completed, failed, timed out (after a queue), and a quick probe."""
    scripts, clock = story.scripts, story.clock
    start = clock.now
    run = story.alice.handle(
        commands.StartExecution(script_id=scripts["nightly-report"].id, trigger=CRON)
    )
    clock.tick(4.2)
    story.runs["nightly-report"] = story.alice.handle(
        commands.CompleteExecution(
            execution_id=run.id,
            status=ExecutionStatus.COMPLETED,
            result={
                "output": "report sent: 1,284 orders, EUR 91,410.50",
                "logs": _logs(
                    start,
                    [
                        (0.1, "info", "summarising 1,284 orders"),
                        (3.9, "info", "mail queued for ops@acme.test"),
                    ],
                ),
            },
        )
    )

    clock.tick(300)
    start = clock.now
    order = {"order_id": 1042, "currency": "XYZ", "total": 99.5}
    run = story.alice.handle(
        commands.StartExecution(script_id=scripts["orders-webhook"].id, trigger=API, input=order)
    )
    clock.tick(0.8)
    story.runs["orders-webhook"] = story.alice.handle(
        commands.CompleteExecution(
            execution_id=run.id,
            status=ExecutionStatus.FAILED,
            result={
                "error": "ValueError: unknown currency 'XYZ' in order 1042",
                "logs": _logs(
                    start,
                    [
                        (0.05, "info", "received order 1042"),
                        (0.79, "error", "rejected: unknown currency 'XYZ'"),
                    ],
                ),
            },
        )
    )

    clock.tick(120)
    start = clock.now
    manual = commands.TriggerData(type=TriggerType.MANUAL, triggered_by=story.bob.session.user_id)
    queued = story.bob.handle(
        commands.EnqueueExecution(script_id=scripts["price-rules"].id, trigger=manual)
    )
    clock.tick(5)
    begun = story.bob.handle(commands.BeginExecution(execution_id=queued.id))
    clock.tick(30)
    story.runs["price-rules"] = story.bob.handle(
        commands.CompleteExecution(
            execution_id=queued.id,
            status=ExecutionStatus.TIMEOUT,
            result={
                "error": "no result within the 30 s limit",
                "logs": _logs(
                    start,
                    [
                        (5.1, "info", "evaluating 12,000 price rules"),
                        (25.0, "warning", "still evaluating after 20 s"),
                    ],
                ),
            },
        )
    )

    clock.tick(60)
    run = story.bob.handle(commands.StartExecution(script_id=scripts["health"].id, trigger=API))
    clock.tick(0.012)
    story.runs["health"] = story.bob.handle(
        commands.CompleteExecution(
            execution_id=run.id, status=ExecutionStatus.COMPLETED, result={"output": "ok"}
        )
    )
    clock.tick(60)

    runs = [(scripts[key], story.runs[key]) for key in story.runs]
    lifecycle = " -> ".join(x.status.value for x in (queued, begun, story.runs["price-rules"]))
    return Section(
        "Executions",
        "Each run is its own event stream: ExecutionStarted (or ExecutionQueued, then "
        "ExecutionStarted) and one ExecutionCompleted carrying the status, the result, the logs "
        "and the duration. A run records the script version it ran.",
        Group(
            executions_table(story, runs),
            Text(f"price-rules went {lifecycle} (queued by bob, begun 5 s later)."),
            logs_table(runs),
        ),
        {
            "executions": [execution_row(story, script, run) for script, run in runs],
            "price_rules_lifecycle": lifecycle,
        },
    )

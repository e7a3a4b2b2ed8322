"""Chapter 5: the rules the module holds, and a command applied once however often it is sent."""

from __future__ import annotations

from uuid import uuid4

from rich.console import Group
from rich.text import Text

from scripts_es import commands
from scripts_es.cli.demo.runs import API
from scripts_es.cli.demo.story import Attempt, Section, Story, attempt
from scripts_es.cli.demo.views import attempt_row, attempts_table, short
from scripts_es.domain import Execution, ExecutionStatus


def refuse(story: Story) -> Section:
    """Chapter 5: what the module refuses (and what it does only once)."""
    scripts = story.scripts
    before = story.alice.scripts.count()
    tried: list[Attempt] = [
        attempt(
            "alice",
            "create orders-webhook-v2 on POST /hooks/orders",
            lambda: story.alice.handle(
                commands.CreateScript(
                    name="orders-webhook-v2",
                    type="http",
                    metadata={"path": "/hooks/orders", "method": "POST"},
                    content="return {}\n",
                )
            ),
            "created",
        ),
        attempt(
            "alice",
            "run the disabled backfill-2024",
            lambda: story.alice.handle(
                commands.StartExecution(script_id=scripts["backfill-2024"].id, trigger=API)
            ),
            "started",
        ),
        attempt(
            "bob",
            "edit nightly-report expecting version 2 (it is at 4)",
            lambda: story.bob.handle(
                commands.UpdateScriptContent(
                    script_id=scripts["nightly-report"].id, content="pass\n", expected_version=2
                )
            ),
            "updated",
        ),
        attempt(
            "alice",
            "schedule a script 'every day at 2'",
            lambda: story.alice.handle(
                commands.CreateScript(
                    name="bad-schedule",
                    type="cron",
                    metadata={"cron_expression": "every day at 2"},
                    content="pass\n",
                )
            ),
            "created",
        ),
        attempt(
            "bob",
            "complete the finished nightly run again, as failed",
            lambda: story.bob.handle(
                commands.CompleteExecution(
                    execution_id=story.runs["nightly-report"].id, status=ExecutionStatus.FAILED
                )
            ),
            "completed",
        ),
        _twice(story),
    ]
    after = story.alice.scripts.count()
    note = f"Acme's scripts before: {before}, after: {after}. Refused commands write nothing."
    return Section(
        "Rules that hold",
        "Route uniqueness is enforced by a unique index written in the same transaction as the "
        "event; optimistic concurrency by the stream version; transitions and values by the "
        "domain. A command carrying a command_id is applied once, however often it is sent.",
        Group(attempts_table("Attempts", tried), Text(note)),
        {
            "attempts": [attempt_row(a) for a in tried],
            "scripts_before": before,
            "scripts_after": after,
        },
    )


def _twice(story: Story) -> Attempt:
    """Send the same StartExecution (same command_id) twice: one run comes of it."""
    command = commands.StartExecution(
        script_id=story.scripts["health"].id, trigger=API, command_id=uuid4()
    )
    first: Execution = story.alice.handle(command)
    second: Execution = story.alice.handle(command)
    story.clock.tick(0.01)
    story.alice.handle(
        commands.CompleteExecution(execution_id=first.id, status=ExecutionStatus.COMPLETED)
    )
    same = first.id == second.id
    message = (
        f"one execution ({short(first.id)}); the retry returned it again"
        if same
        else f"two executions: {short(first.id)} and {short(second.id)}"
    )
    return Attempt(
        "alice",
        "send one StartExecution twice",
        "applied once" if same else "applied twice",
        message,
        refused=not same,
    )

"""Chapter 5: running what is stored: a route lookup, a cron slot fired once by two
schedulers, two workers claiming the queue, and a lapsed claim timed out."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from rich.console import Group
from rich.text import Text

from scripts_es import commands
from scripts_es.cli.demo.story import Section, Story, attempt
from scripts_es.cli.output import grid
from scripts_es.domain import Execution, ExecutionStatus, ScriptType, TriggerType


def together(work: Callable[[int], Any]) -> list[Any]:
    """`work(0)` and `work(1)` in two threads released at once (two processes of a host)."""
    gate = threading.Barrier(2)
    results: list[Any] = [None, None]

    def one(i: int) -> None:
        gate.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def run_scripts(story: Story) -> Section:
    """Chapter 5: dispatch, schedules, workers, timeouts."""
    alice, clock, module = story.alice, story.clock, story.module
    # An HTTP request arrives: which of Acme's scripts owns POST /hooks/orders?
    hook = alice.scripts.find_by_route("post", "/hooks/orders")
    order = {"order_id": 1043, "total": 12.5}
    api = commands.TriggerData(type=TriggerType.API)
    queued = alice.handle(commands.EnqueueExecution(script_id=hook.id, trigger=api, input=order))

    # A cron script every 15 minutes; 40 minutes pass with no scheduler running.
    metadata = {"cron_expression": "*/15 * * * *", "timezone": "Europe/Berlin"}
    ticker = alice.handle(
        commands.CreateScript(
            name="stock-sync",
            content="sync()",
            type=ScriptType.CRON,
            metadata=metadata,
            tags=["sync"],
        )
    )
    story.scripts["stock-sync"] = ticker
    clock.tick(40 * 60)
    (due,) = [d for d in alice.scripts.due(clock()) if d.script_id == ticker.id]
    fire = commands.FireScheduledRun(script_id=ticker.id, scheduled_for=due.scheduled_for)
    fired: list[Execution] = together(lambda i: alice.handle(fire))  # two schedulers, one slot

    # Two workers claim the queue at once; nobody gets a run twice.
    claims: list[list[Execution]] = together(
        lambda i: module.claim(f"worker-{i + 1}", limit=1, lease=30)
    )
    claimed = [(f"worker-{i + 1}", run) for i, runs in enumerate(claims) for run in runs]
    # worker-1 finishes; worker-2 goes quiet, its lease lapses, and the sweep times it out.
    (_, first), *rest = claimed
    alice.handle(
        commands.CompleteExecution(execution_id=first.id, status=ExecutionStatus.COMPLETED)
    )
    clock.tick(45)
    swept = module.sweep()
    late = [
        attempt(who, "complete after its lease", _completer(story, run), "completed")
        for who, run in rest
    ]

    names = {hook.id: hook.name, ticker.id: ticker.name}
    rows = [
        (who, names.get(run.script_id, "?"), run.trigger.type.value,
         alice.executions.find_by_id(run.id).status.value)
        for who, run in claimed
    ]  # fmt: skip
    summary = [
        f"POST /hooks/orders -> {hook.name} (v{hook.version}); queued {queued.id} with the body.",
        f"stock-sync's {fired[0].trigger.scheduled_for:%H:%M} UTC slot fired by two schedulers: "
        f"{'one execution' if fired[0].id == fired[1].id else 'TWO executions (bug)'}, "
        f"{fired[0].trigger.skipped_slots} missed slot(s) skipped "
        f"(due since {due.scheduled_for:%H:%M} UTC).",
        f"The sweep timed out {len(swept)} run(s); "
        + "; ".join(f"{a.actor}: {a.outcome}: {a.message}" for a in late),
    ]
    return Section(
        "Running scripts",
        "The module records; the host runs. A route names its script in one index lookup; a "
        "cron slot fires once however many schedulers fire it; workers claim pending runs with "
        "FOR UPDATE SKIP LOCKED and a lease; a lapsed lease ends as timeout, and the late "
        "completion is refused.",
        Group(
            *(Text(line) for line in summary),
            grid("Claims", ["worker", "script", "trigger", "status now"], rows),
        ),
        {
            "route": {"method": "POST", "path": "/hooks/orders", "script": hook.name},
            "fired": [str(run.id) for run in fired],
            "skipped_slots": fired[0].trigger.skipped_slots,
            "claims": [{"worker": w, "execution": str(r.id)} for w, r in claimed],
            "timed_out": [str(run.id) for run in swept],
            "late_completion": [a.outcome for a in late],
        },
    )


def _completer(story: Story, run: Execution) -> Callable[[], object]:
    command = commands.CompleteExecution(execution_id=run.id, status=ExecutionStatus.COMPLETED)
    return lambda: story.alice.handle(command)

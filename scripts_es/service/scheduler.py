"""The scheduler loop (`scripts-es scheduler run`): fire every due cron slot, again and again.

Any number of schedulers may run at once: FireScheduledRun records one execution per
(script, slot) whoever fires it, so a second scheduler is redundancy, not duplication. A due
script that cannot fire (disabled or deleted since it was listed) is counted and skipped.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

from scripts_es import commands
from scripts_es.domain import DueRun, Execution
from scripts_es.errors import ScriptsError
from scripts_es.reports import SchedulerReport

SCHEDULER = UUID("00000000-0000-0000-0000-00000000c407")  # the acting user of fired runs
MAX_ERRORS = 20  # errors kept in a report (all are counted)

ListDue = Callable[[int], list[DueRun]]  # (limit) -> the runs due now
Fire = Callable[[UUID, commands.FireScheduledRun], Execution]  # (tenant_id, command) -> run


def fire_due(list_due: ListDue, fire: Fire, *, limit: int = 100) -> SchedulerReport:
    """Fire what is due now, batch after batch, until nothing is (one round)."""
    fired = skipped = failed = 0
    errors: list[str] = []
    while True:
        batch = list_due(limit)
        progressed = False
        for due in batch:
            command = commands.FireScheduledRun(
                script_id=due.script_id, scheduled_for=due.scheduled_for
            )
            try:
                run = fire(due.tenant_id, command)
            except ScriptsError as error:  # e.g. disabled or deleted since it was listed
                failed += 1
                if len(errors) < MAX_ERRORS:
                    errors.append(f"{due.tenant_id}/{due.script_id}: {error}")
                continue
            fired += 1
            skipped += run.trigger.skipped_slots
            progressed = True
        if len(batch) < limit or not progressed:
            return SchedulerReport(1, fired, skipped, failed, errors)


def run(
    list_due: ListDue,
    fire: Fire,
    *,
    once: bool = False,
    interval: float = 5.0,
    stop: threading.Event | None = None,
    progress: Callable[[SchedulerReport], None] | None = None,
) -> SchedulerReport:
    """Fire due slots every `interval` seconds until `stop` is set (or once, with `once`)."""
    stop = stop or threading.Event()
    total = SchedulerReport(0, 0, 0, 0)
    while True:
        report = fire_due(list_due, fire)
        total = SchedulerReport(
            total.rounds + 1,
            total.fired + report.fired,
            total.skipped_slots + report.skipped_slots,
            total.failed + report.failed,
            (total.errors + report.errors)[:MAX_ERRORS],
        )
        if progress and (report.fired or report.failed):
            progress(report)
        if once or stop.wait(interval):
            return total

"""Plain results of maintenance work (projections, pruning), for the CLI and host apps."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Report:
    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ProjectionStatus(Report):
    """Where the out-of-process runner stands: its position and the events not yet applied."""

    name: str
    last_notification_id: int
    last_txid: int
    lag_events: int
    updated_at: datetime | None
    position: int = 0  # in the event feed
    held_back: HeldBack | None = None  # what keeps committed events from the feed, if anything


@dataclass(frozen=True)
class RunReport(Report):
    events: int
    batches: int
    held_back: bool = False  # stopped while an in-flight transaction still held events back


@dataclass(frozen=True)
class RebuildReport(Report):
    tenant_id: str | None
    events: int
    streams: int
    scripts: int
    script_versions: int
    executions: int
    seconds: float


@dataclass(frozen=True)
class TableDrift(Report):
    table: str
    missing: int  # rows the rebuild has that the live table lacks (or differs)
    extra: int  # rows the live table has that the rebuild lacks (or differs)
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class VerifyReport(Report):
    ok: bool
    tables: list[TableDrift]


@dataclass(frozen=True)
class PruneSummary(Report):
    """Totals of a prune over many scripts (or executions)."""

    dry_run: bool
    scripts_touched: int
    events_removed: int
    executions_removed: int
    bytes_freed: int
    # Targets listed at the start that were gone when their turn came (deleted meanwhile).
    skipped: int = 0


@dataclass(frozen=True)
class SchedulerReport(Report):
    """What a scheduler run fired: runs answered (new or already fired by another scheduler),
    slots the misfire policy skipped, and due scripts it could not fire (with why)."""

    rounds: int
    fired: int
    skipped_slots: int
    failed: int
    errors: list[str] = field(default_factory=list)  # the first few, for the operator


@dataclass(frozen=True)
class SweepReport(Report):
    """Running executions whose lease lapsed, completed as `timeout`."""

    timed_out: int
    executions: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class HeldBack(Report):
    """Committed events the feed cannot deliver yet, and what holds them: the transaction
    that is the in-flight horizon (oldest transaction id still running on the server)."""

    waiting_events: int
    pid: int | None
    database: str | None
    user: str | None
    application_name: str | None
    state: str | None
    since: datetime | None
    held_seconds: float | None

    def describe(self) -> str:
        """One line for an operator: what to look at, or end, to let the feed move on."""
        if self.pid is None:
            return (
                f"{self.waiting_events} committed event(s) wait for an older transaction "
                "still in flight on this server (its backend could not be named)"
            )
        return (
            f"{self.waiting_events} committed event(s) held back by backend pid {self.pid} "
            f"(database {self.database!r}, user {self.user!r}, application "
            f"{self.application_name!r}, {self.state}) whose transaction has been open "
            f"{self.held_seconds or 0:.1f} s since {self.since}: the feed moves on when it "
            f"ends (pg_terminate_backend({self.pid}) ends it)"
        )


@dataclass(frozen=True)
class FeedConsumer(Report):
    """A registered consumer of the feed (a tracking row) and how far behind it is."""

    name: str
    position: int
    behind: int
    updated_at: datetime | None

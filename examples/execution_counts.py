"""A host app's own view of scripts-es events, built with the `eventsourcing` library alone.

    PERSISTENCE_MODULE=scripts_es.feed SCRIPTS_ES_DSN=postgresql://... \\
        python examples/execution_counts.py

`eventsourcing.projection.ProjectionRunner` follows the module's event feed (every tenant: no
SCRIPTS_ES_TENANT_ID is set) and keeps, per tenant, how many executions reached each status
(queued ones reach "pending", started ones "running", completed ones their final status) in
a table of its own, `execution_counts`. Each count changes in the same transaction as the
view's tracking position, so the runner can be killed at any moment (even SIGKILL) and
restarted: it resumes after the last position it recorded, and nothing is counted twice.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.dispatch import singledispatchmethod
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection, ProjectionRunner

from scripts_es.domain.events import ExecutionCompleted, ExecutionQueued, ExecutionStarted
from scripts_es.feed import FeedTrackingRecorder
from scripts_es.store.mapper import get_topic

CREATE = """
CREATE TABLE IF NOT EXISTS execution_counts (
    tenant_id  uuid   NOT NULL,
    status     text   NOT NULL,
    executions bigint NOT NULL,
    PRIMARY KEY (tenant_id, status)
)"""
COUNT = """
INSERT INTO execution_counts (tenant_id, status, executions) VALUES (%s, %s, 1)
ON CONFLICT (tenant_id, status) DO UPDATE SET executions = execution_counts.executions + 1"""


class ScriptsEvents(Application[UUID]):
    """The scripts-es events, as the library sees an application (it only reads them here)."""

    name = "scripts_es"


class ExecutionCountsView(FeedTrackingRecorder):
    """The view: its own table, written with its tracking position in one transaction."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        assert self.login_pool is not None
        with self.login_pool.connection() as conn:
            conn.execute(CREATE)

    def count(self, tenant_id: UUID, status: str, tracking: Tracking) -> None:
        with self.record(tracking) as conn:
            conn.execute(COUNT, (tenant_id, status))

    def counts(self) -> dict[tuple[UUID, str], int]:
        assert self.login_pool is not None
        with self.login_pool.connection() as conn:
            rows = conn.execute("SELECT tenant_id, status, executions FROM execution_counts")
            return {(tenant, status): int(n) for tenant, status, n in rows}


class ExecutionCounts(Projection[ExecutionCountsView]):
    name = "execution_counts"
    topics = tuple(
        get_topic(cls) for cls in (ExecutionQueued, ExecutionStarted, ExecutionCompleted)
    )

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Anything else (an EventPruned notice of a pruned execution): only move on."""
        self.view.insert_tracking(tracking)

    @process_event.register
    def _(self, domain_event: ExecutionQueued, tracking: Tracking) -> None:
        self.view.count(domain_event.tenant_id, "pending", tracking)

    @process_event.register
    def _(self, domain_event: ExecutionStarted, tracking: Tracking) -> None:
        self.view.count(domain_event.tenant_id, "running", tracking)

    @process_event.register
    def _(self, domain_event: ExecutionCompleted, tracking: Tracking) -> None:
        self.view.count(domain_event.tenant_id, str(domain_event.status), tracking)


def main() -> None:
    """Run until killed (the environment names the persistence module and the database)."""
    with ProjectionRunner(
        application_class=ScriptsEvents,
        projection_class=ExecutionCounts,
        view_class=ExecutionCountsView,
    ) as runner:
        print("following", flush=True)
        runner.run_forever()


if __name__ == "__main__":
    main()

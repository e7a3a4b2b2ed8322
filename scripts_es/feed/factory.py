"""The infrastructure factory the library finds through PERSISTENCE_MODULE=scripts_es.feed.

Configuration comes from the library's `Environment` (so an application's prefixed names
work too): SCRIPTS_ES_DSN (as for `ScriptsModule.open`), SCRIPTS_ES_MAINTENANCE_DSN (the
maintenance login, default the same), SCRIPTS_ES_TENANT_ID (write and read as one tenant
under row-level security; unset: write as the nil tenant and read the maintenance feed of
every tenant), SCRIPTS_ES_FEED_WAIT (seconds `insert_events` waits for positions, default 10)
and SCRIPTS_ES_FEED_POLL (the subscription's polling fallback, default 0.1 s). The schema is
installed by `scripts-es db install`; CREATE_TABLE is ignored.
"""

from __future__ import annotations

from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.persistence import (
    AggregateRecorder,
    InfrastructureFactory,
    Mapper,
    Transcoder,
)
from eventsourcing.utils import Environment, EnvType, resolve_topic
from psycopg_pool import ConnectionPool

from scripts_es.config import resolve_dsn
from scripts_es.errors import InvalidInput
from scripts_es.feed.errors import library_errors
from scripts_es.feed.mapper import FeedMapper
from scripts_es.feed.recorders import (
    FeedApplicationRecorder,
    FeedProcessRecorder,
    FeedRecorder,
    FeedTrackingRecorder,
)
from scripts_es.store.database import Database, with_timeout

R = TypeVar("R", bound=FeedTrackingRecorder)


class Factory(InfrastructureFactory[FeedTrackingRecorder]):
    """Recorders over one scripts-es database (pools are opened on first use)."""

    DSN = "SCRIPTS_ES_DSN"
    MAINTENANCE_DSN = "SCRIPTS_ES_MAINTENANCE_DSN"
    TENANT_ID = "SCRIPTS_ES_TENANT_ID"
    FEED_WAIT = "SCRIPTS_ES_FEED_WAIT"
    FEED_POLL = "SCRIPTS_ES_FEED_POLL"

    application_recorder_class = FeedApplicationRecorder
    tracking_recorder_class = FeedTrackingRecorder
    process_recorder_class = FeedProcessRecorder

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        self.dsn = resolve_dsn(self.env.get(self.DSN))
        self.tenant_id = _tenant(self.env.get(self.TENANT_ID))
        self.wait_timeout = float(self.env.get(self.FEED_WAIT) or 10.0)
        self.poll_interval = float(self.env.get(self.FEED_POLL) or 0.1)
        self._database: Database | None = None
        self._login_pool: ConnectionPool[Any] | None = None

    @property
    def database(self) -> Database:
        if self._database is None:
            database = Database(self.dsn, maintenance_dsn=self.env.get(self.MAINTENANCE_DSN))
            with library_errors():
                database.open()
            self._database = database
        return self._database

    @property
    def login_pool(self) -> ConnectionPool[Any]:
        """Connections as the host's own login (no role switch), for views' own tables."""
        if self._login_pool is None:
            self._login_pool = ConnectionPool(
                with_timeout(self.dsn), min_size=0, max_size=4, open=True, name="scripts-es-view"
            )
        return self._login_pool

    def _recorder(self, cls: type[FeedRecorder]) -> Any:
        return cls(
            self.database,
            tenant_id=self.tenant_id,
            wait_timeout=self.wait_timeout,
            poll_interval=self.poll_interval,
            login_pool=self.login_pool,
        )

    def mapper(
        self,
        transcoder: Transcoder | None = None,
        mapper_class: type[Mapper[Any]] | None = None,
    ) -> Mapper[Any]:
        """FeedMapper unless MAPPER_TOPIC or the caller names another mapper class."""
        if mapper_class is None and not self.env.get(self.MAPPER_TOPIC):
            mapper_class = FeedMapper
        return super().mapper(transcoder=transcoder, mapper_class=mapper_class)

    def aggregate_recorder(self, purpose: str = "events") -> AggregateRecorder:
        """The application recorder: aggregates' events are the feed's events."""
        return self.application_recorder()

    def application_recorder(self) -> FeedApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls = resolve_topic(topic) if topic else type(self).application_recorder_class
        return self._recorder(cls)  # type: ignore[no-any-return]

    def tracking_recorder(self, tracking_recorder_class: type[R] | None = None) -> R:
        cls: type[FeedRecorder] | None = tracking_recorder_class
        if cls is None:
            topic = self.env.get(self.TRACKING_RECORDER_TOPIC)
            cls = resolve_topic(topic) if topic else self.tracking_recorder_class
        return self._recorder(cls)  # type: ignore[no-any-return]

    def process_recorder(self) -> FeedProcessRecorder:
        topic = self.env.get(self.PROCESS_RECORDER_TOPIC)
        cls = resolve_topic(topic) if topic else type(self).process_recorder_class
        return self._recorder(cls)  # type: ignore[no-any-return]

    def close(self) -> None:
        if self._login_pool is not None:
            self._login_pool.close()
            self._login_pool = None
        if self._database is not None:
            self._database.close()
            self._database = None


def _tenant(value: str | None) -> UUID | None:
    if not value:
        return None
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(
            "SCRIPTS_ES_TENANT_ID", f"{value!r} is not a UUID: set a tenant's id, or unset it"
        ) from None

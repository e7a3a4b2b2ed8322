"""The `eventsourcing` library's own conformance suites, run against scripts_es.feed.

Only what the library's TestCases mean to be overridden is: the recorder and factory
constructors and the documented `expected_*` hooks. No test method is overridden or skipped.
"""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.persistence import AggregateRecorder, TrackingRecorder
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    NonInterleavingNotificationIDsBaseCase,
    ProcessRecorderTestCase,
    TrackingRecorderTestCase,
)
from eventsourcing.utils import Environment

from scripts_es.feed import (
    Factory,
    FeedApplicationRecorder,
    FeedProcessRecorder,
    FeedTrackingRecorder,
)
from scripts_es.feed.recorders import FeedRecorder
from scripts_es.store.database import Database

pytestmark = pytest.mark.usefixtures("throwaway_dsn_for_unittest")


class Recorders:
    """Recorders over the test's throwaway database (`dsn`, set by the fixture)."""

    dsn: str

    def feed_recorder(self, cls: type[Any]) -> Any:
        database = Database(self.dsn)
        database.open()
        self.addCleanup(database.close)  # type: ignore[attr-defined]
        recorder: FeedRecorder = cls(database)
        return recorder


class TestApplicationRecorder(Recorders, ApplicationRecorderTestCase[FeedApplicationRecorder]):
    def create_recorder(self) -> FeedApplicationRecorder:
        return self.feed_recorder(FeedApplicationRecorder)  # type: ignore[no-any-return]

    def test_insert_subscribe(self) -> None:
        self.optional_test_insert_subscribe()


class TestTrackingRecorder(Recorders, TrackingRecorderTestCase):
    def create_recorder(self) -> TrackingRecorder:
        return self.feed_recorder(FeedTrackingRecorder)  # type: ignore[no-any-return]


class TestProcessRecorder(Recorders, ProcessRecorderTestCase):
    def create_recorder(self) -> FeedProcessRecorder:
        return self.feed_recorder(FeedProcessRecorder)  # type: ignore[no-any-return]


class TestNonInterleavingNotificationIDs(Recorders, NonInterleavingNotificationIDsBaseCase):
    def create_recorder(self) -> FeedApplicationRecorder:
        return self.feed_recorder(FeedApplicationRecorder)  # type: ignore[no-any-return]


class SubclassOfTrackingRecorder(FeedTrackingRecorder):
    pass


class TestInfrastructureFactory(InfrastructureFactoryTestCase[Factory]):
    dsn: str

    def setUp(self) -> None:
        self.env = Environment(
            env={"PERSISTENCE_MODULE": "scripts_es.feed", "SCRIPTS_ES_DSN": self.dsn}
        )
        super().setUp()

    def expected_factory_class(self) -> type[Factory]:
        return Factory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return FeedApplicationRecorder

    def expected_application_recorder_class(self) -> type[FeedApplicationRecorder]:
        return FeedApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[FeedTrackingRecorder]:
        return FeedTrackingRecorder

    def tracking_recorder_subclass(self) -> type[FeedTrackingRecorder]:
        return SubclassOfTrackingRecorder

    def expected_process_recorder_class(self) -> type[FeedProcessRecorder]:
        return FeedProcessRecorder

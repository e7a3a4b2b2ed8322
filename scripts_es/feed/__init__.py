"""scripts-es as a persistence module of the `eventsourcing` library (DESIGN §9).

Set PERSISTENCE_MODULE=scripts_es.feed and SCRIPTS_ES_DSN: an application's recorder then
reads the module's events in feed order, decoded into this module's pydantic event classes,
and tracking/process recorders keep consumers' positions in the same database, so the
library's ProjectionRunner and EventSourcedProjection run over scripts-es events. See
scripts_es/feed/factory.py for every setting.
"""

from scripts_es.feed.factory import Factory
from scripts_es.feed.mapper import FeedMapper
from scripts_es.feed.recorders import (
    NIL_TENANT,
    FeedApplicationRecorder,
    FeedProcessRecorder,
    FeedTrackingRecorder,
)
from scripts_es.feed.subscription import FeedSubscription

__all__ = [
    "NIL_TENANT",
    "Factory",
    "FeedApplicationRecorder",
    "FeedMapper",
    "FeedProcessRecorder",
    "FeedSubscription",
    "FeedTrackingRecorder",
]

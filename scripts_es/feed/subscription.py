"""`subscribe()` as the library defines it: woken by LISTEN/NOTIFY, polling as the fallback."""

from __future__ import annotations

from collections.abc import Sequence
from threading import Thread
from typing import Any

from eventsourcing.persistence import ApplicationRecorder, ListenNotifySubscription

from scripts_es.store.feed import Feed


class FeedSubscription(ListenNotifySubscription[ApplicationRecorder]):
    """Notifications after `gt`, then new ones as the sequencer announces them.

    A listening connection wakes the library's pull thread on every notification from the
    sequencer, and at least every `poll_interval` seconds (each pull runs a sequencing pass,
    so events committed by writers that announce nothing still arrive).
    """

    def __init__(
        self,
        recorder: ApplicationRecorder,
        feed: Feed,
        gt: int | None = None,
        topics: Sequence[str] = (),
        *,
        poll_interval: float = 0.1,
    ) -> None:
        self._poll_interval = poll_interval
        self._feed = feed
        super().__init__(recorder=recorder, gt=gt, topics=topics)
        self._listen_thread = Thread(target=self._listen, name="scripts-es-feed-listen")
        self._listen_thread.start()

    def __exit__(self, *args: object, **kwargs: Any) -> None:
        try:
            super().__exit__(*args, **kwargs)
        finally:
            self._listen_thread.join()

    def _listen(self) -> None:
        try:
            with self._feed.listening() as listener:
                while not self._has_been_stopped and not self._thread_error:
                    listener.wait(self._poll_interval)
                    self._has_been_notified.set()
        except BaseException as error:  # handed to the iterating thread, as the library does
            if self._thread_error is None:
                self._thread_error = error
            self.stop()

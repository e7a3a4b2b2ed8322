"""A clock tests move by hand, for `ScriptsModule.with_clock` and the handlers' `Context`."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

# Microseconds on purpose: every stored timestamp must keep them.
EPOCH = datetime(2030, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)


class Clock:
    """Thread-safe; time moves only when told to (`advance`, `set_day`). `now` is the time."""

    def __init__(self, start: datetime = EPOCH) -> None:
        self.now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self.now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self.now += delta
            return self.now

    def set_day(self, day: float) -> datetime:
        """Jump to `day` days after EPOCH."""
        with self._lock:
            self.now = EPOCH + timedelta(days=day)
            return self.now

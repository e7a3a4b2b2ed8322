"""Clean shutdown of the long-running commands (`projections run`, `scheduler run`)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

STOPPING = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signal() -> Iterator[threading.Event]:
    """The first Ctrl-C or SIGTERM asks the loop to stop after its current step (nothing is
    left half-done); a second Ctrl-C interrupts at once."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def first(signum: int, frame: FrameType | None) -> None:
        stop.set()
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {number: signal.signal(number, first) for number in STOPPING}
    try:
        yield stop
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)

"""Races for the integration suite: threads released together, or held at the command log
until all of them have passed their command_id check."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import psycopg

from tests.support.raw import Raw, raw

T = TypeVar("T")


@dataclass(frozen=True)
class Outcome(Generic[T]):
    value: T | None = None
    error: BaseException | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def attempt(work: Callable[[], T]) -> Outcome[T]:
    """What one call returned, or raised."""
    try:
        return Outcome(value=work())
    except BaseException as error:
        return Outcome(error=error)


class Threads(Generic[T]):
    """`work(i)` started in `n` daemon threads (each first waits on `barrier`, if given)."""

    def __init__(
        self, n: int, work: Callable[[int], T], barrier: threading.Barrier | None = None
    ) -> None:
        self.outcomes: list[Outcome[T]] = [Outcome() for _ in range(n)]

        def run(i: int) -> None:
            if barrier is not None:
                barrier.wait()
            self.outcomes[i] = attempt(lambda: work(i))

        self.threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> list[Outcome[T]]:
        """Wait for every thread (none may hang); what each got."""
        for thread in self.threads:
            thread.join(timeout)
            assert not thread.is_alive(), "a racing thread hung"
        return self.outcomes


def race(n: int, work: Callable[[int], T], *, timeout: float = 30.0) -> list[Outcome[T]]:
    """Run `work(i)` in `n` threads released together by a barrier; collect what each got."""
    return Threads(n, work, threading.Barrier(n)).join(timeout)


def lock_waiters(conn: Raw) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        "   AND wait_event_type = 'Lock'"
    ).fetchone()
    return int(row[0])


def race_past_the_command_log(
    dsn: str, n: int, work: Callable[[int], T], *, timeout: float = 10.0
) -> list[Outcome[T]]:
    """Race `n` commands so that every one passes its command_id check before any commits.

    A superuser holds `LOCK TABLE scripts_es.commands IN EXCLUSIVE MODE` (reads of the command
    log still pass, inserts wait) until all `n` transactions wait on a lock, then lets go. This
    turns the "second request arrives while the first is still in flight" race into a
    deterministic one.
    """
    with raw(dsn) as watcher, psycopg.connect(dsn) as locker:
        locker.execute("LOCK TABLE scripts_es.commands IN EXCLUSIVE MODE")
        threads = Threads(n, work)
        deadline = time.monotonic() + timeout
        while lock_waiters(watcher) < n and time.monotonic() < deadline:
            time.sleep(0.01)
        assert lock_waiters(watcher) >= n, "the racing commands never met at the command log"
        locker.rollback()
    return threads.join(30.0)


def errors_of(outcomes: list[Outcome[Any]]) -> list[BaseException]:
    return [o.error for o in outcomes if o.error is not None]


def values_of(outcomes: list[Outcome[T]]) -> list[T]:
    return [o.value for o in outcomes if o.error is None]  # type: ignore[misc]

"""A transaction that holds the server's in-flight horizon (the event feed waits behind it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg


@contextmanager
def holding_the_horizon(dsn: str) -> Iterator[psycopg.Connection[Any]]:
    """An open transaction with a transaction id that is the horizon: the oldest in flight on
    the server (older ones of other tests are waited for). Rolled back at the end."""
    with psycopg.connect(dsn) as conn:
        (xid,) = conn.execute("SELECT pg_current_xact_id()::text").fetchone() or ("",)
        deadline = time.monotonic() + 60
        with psycopg.connect(dsn, autocommit=True) as probe:
            while time.monotonic() < deadline:
                row = probe.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
                if (row.fetchone() or ("",))[0] == xid:
                    break
                time.sleep(0.01)
        try:
            yield conn
        finally:
            conn.rollback()

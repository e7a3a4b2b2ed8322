"""CPU time on both sides: this process, and the server processes serving one database.

The server side reads /proc/<pid>/stat of the backends connected to the database, which works
when the server runs on this machine (the embedded one does); elsewhere it reports nothing.
"""

from __future__ import annotations

import os
import time
from typing import Any

import psycopg

TICK = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])  # utime + stime


class CpuMeter:
    """Client and server CPU seconds spent between `start()` and `stop()`, summed over calls."""

    def __init__(self, dsn: str) -> None:
        self.conn: psycopg.Connection[Any] = psycopg.connect(dsn, autocommit=True)
        self.client = self.server = 0.0
        self.server_known = True
        self._mark: tuple[float, dict[int, int]] = (0.0, {})

    def _server(self) -> dict[int, int]:
        rows = self.conn.execute(
            "SELECT pid FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
        ticks = {pid: _ticks(pid) for (pid,) in rows}
        if any(t is None for t in ticks.values()):
            self.server_known = False
        return {pid: t for pid, t in ticks.items() if t is not None}

    def start(self) -> None:
        self._mark = (time.process_time(), self._server())

    def stop(self) -> None:
        client, before = self._mark
        after = self._server()
        self.client += time.process_time() - client
        # A backend that connected meanwhile (a pool growing) spent all its CPU in the window.
        self.server += sum(t - before.get(pid, 0) for pid, t in after.items()) / TICK

    def per_op_ms(self, ops: int) -> dict[str, float | None]:
        return {
            "client_cpu_ms_per_op": round(self.client / ops * 1e3, 4),
            "server_cpu_ms_per_op": round(self.server / ops * 1e3, 4)
            if self.server_known
            else None,
        }

    def close(self) -> None:
        self.conn.close()

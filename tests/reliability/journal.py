"""Writers' journals: one JSON line per event, appended, flushed and fsynced.

Line kinds (`t`):
- `start`: a writer (re)started: its id, generation, pid.
- `send`: a command is about to be handled: kind, command_id, tenant, user, the command's JSON,
  the aggregate it targets (when known) and the marker its payload carries (if any).
- `ack`: a call returned: command_id, aggregate id and version its result names, the result's
  digest and JSON, the number of attempts. Written and fsynced before the command counts as
  acknowledged; a writer SIGKILLed before that point leaves the command unacknowledged.
- `err`: the command raised a scripts_es.errors type (expected: conflicts, not found, ...).
- `gave_up`: StorageUnavailable on every attempt (the command is in doubt, never acknowledged).
- `nonlib`: an exception that is not a ScriptsError (a violation): type, message, traceback.
- `harness`: the writer itself misbehaved (a bug of the harness, not of the module).

Every line carries `ts`, the system-wide monotonic clock (comparable across processes on one
machine), so journals, faults and maintenance runs can be put on one timeline.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson


def digest(data: Any) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, record: dict[str, Any], *, sync: bool = False) -> None:
        record.setdefault("ts", time.monotonic())
        line = orjson.dumps(record, default=str) + b"\n"
        os.write(self._fd, line)  # one write(2) per line: a kill never leaves half a line behind
        if sync:
            os.fsync(self._fd)

    def close(self) -> None:
        os.close(self._fd)


def read(path: Path) -> Iterator[dict[str, Any]]:
    """The complete lines of a journal (a torn last line, if any, is not a record)."""
    with open(path, "rb") as f:
        for raw in f:
            if not raw.endswith(b"\n"):
                break
            try:
                yield orjson.loads(raw)
            except orjson.JSONDecodeError:
                break

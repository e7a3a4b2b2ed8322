"""The adapter boundary: psycopg errors become scripts_es errors here and nowhere else.

The names of the constraints whose violation means something precise to a caller live here
too (a test checks each against the schema); the service layer maps them to its errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool
from psycopg import errors as pg

from scripts_es.errors import (
    Conflict,
    InvalidInput,
    PermissionDenied,
    ScriptsError,
    StorageError,
    StorageUnavailable,
)

TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    pg.SerializationFailure,
    pg.DeadlockDetected,
)
STREAM_MOVED = "SE409"  # raised by scripts_es.lock_stream_head (schema.sql)
# Unique constraints whose violation means something precise to a caller (names in schema.sql).
ROUTES_KEY = "script_routes_pkey"  # another live http script holds the (method, path)
EVENTS_KEY = "events_pkey"  # the stream already has that version
COMMANDS_KEY = "commands_pkey"  # the command_id was recorded meanwhile
CONSTRAINTS = (ROUTES_KEY, EVENTS_KEY, COMMANDS_KEY)


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise any driver error as the scripts_es error a caller can act on."""
    try:
        yield
    except ScriptsError:
        raise
    except (psycopg.Error, psycopg_pool.PoolTimeout) as error:
        raise translation(error) from None


def translation(error: psycopg.Error | psycopg_pool.PoolTimeout) -> ScriptsError:
    """The scripts_es error that stands for a driver error."""
    if isinstance(error, pg.UniqueViolation):
        return DuplicateKey(error.diag.constraint_name or "")
    if isinstance(error, psycopg.Error) and error.sqlstate == STREAM_MOVED:
        return StreamMoved(first_line(error))
    if isinstance(error, pg.UndefinedTable | pg.InvalidSchemaName | pg.UndefinedFunction):
        return StorageError(
            f"the scripts-es schema is missing or outdated ({first_line(error)}): "
            "run `scripts-es db install`",
            hint=None,
        )
    if isinstance(error, pg.InsufficientPrivilege):
        return PermissionDenied(
            f"the database login may not do this ({first_line(error)}): installing or "
            "upgrading the schema needs its owner; tenant work needs a member of "
            "scripts_es_app; maintenance needs a member of scripts_es_maint"
        )
    if isinstance(error, psycopg.DataError):
        return InvalidInput("value", f"the database rejected a value: {first_line(error)}")
    if isinstance(error, TRANSIENT):
        return StorageUnavailable(f"database unavailable: {first_line(error)}")
    return StorageError(f"database error: {first_line(error)}")


class StreamMoved(Conflict):
    """The stream's head is not the version an append was decided on (raised in SQL)."""


class DuplicateKey(Conflict):
    """A unique constraint fired; repositories turn it into the precise conflict."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"duplicate key ({constraint})")
        self.constraint = constraint


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

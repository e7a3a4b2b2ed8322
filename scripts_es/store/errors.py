"""The adapter boundary: psycopg errors become scripts_es errors here and nowhere else."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg_pool
from psycopg import errors as pg

from scripts_es.errors import Conflict, InvalidInput, ScriptsError, StorageError, StorageUnavailable

TRANSIENT: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    psycopg_pool.PoolTimeout,
    pg.SerializationFailure,
    pg.DeadlockDetected,
)


@contextmanager
def translated() -> Iterator[None]:
    """Re-raise any driver error as the scripts_es error a caller can act on."""
    try:
        yield
    except ScriptsError:
        raise
    except pg.UniqueViolation as error:
        raise DuplicateKey(error.diag.constraint_name or "") from None
    except (pg.UndefinedTable, pg.InvalidSchemaName, pg.UndefinedFunction) as error:
        raise StorageError(
            f"the scripts-es schema is missing or outdated ({first_line(error)}): "
            "run `scripts-es db install`"
        ) from None
    except (psycopg.DataError, pg.CharacterNotInRepertoire, pg.UntranslatableCharacter) as error:
        raise InvalidInput("value", f"the database rejected a value: {first_line(error)}") from None
    except TRANSIENT as error:
        raise StorageUnavailable(f"database unavailable: {first_line(error)}") from None
    except psycopg.Error as error:
        raise StorageError(f"database error: {first_line(error)}") from None


class DuplicateKey(Conflict):
    """A unique constraint fired; repositories turn it into the precise conflict."""

    def __init__(self, constraint: str) -> None:
        super().__init__(f"duplicate key ({constraint})")
        self.constraint = constraint


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__

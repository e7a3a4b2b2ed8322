"""The library's side of the error boundary: what the eventsourcing ports promise to raise.

Recorders of `eventsourcing` raise its own persistence errors (a conflict is its
IntegrityError), so code written against the library keeps working. Each one here is also the
scripts_es error it stands for, so `except scripts_es.errors...` works as well.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from eventsourcing import persistence as library

from scripts_es import errors


class FeedIntegrityError(library.IntegrityError, errors.Conflict):
    """A recorded event or tracking position already exists (or a position went back)."""


class FeedOperationalError(library.OperationalError, errors.StorageUnavailable):
    """The database could not be reached."""


class FeedPersistenceError(library.PersistenceError, errors.ScriptsError):
    """Any other refusal of the database, with scripts_es's message."""


@contextmanager
def library_errors() -> Iterator[None]:
    """Re-raise scripts_es errors (already translated from the driver) as the library's."""
    try:
        yield
    except library.PersistenceError:
        raise
    except errors.Conflict as error:
        raise FeedIntegrityError(str(error)) from error
    except errors.StorageUnavailable as error:
        raise FeedOperationalError(str(error)) from error
    except (errors.StorageError, errors.PermissionDenied, errors.InvalidInput) as error:
        raise FeedPersistenceError(str(error)) from error

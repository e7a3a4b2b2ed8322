"""The one error hierarchy of scripts-es: everything a caller can cause or meet."""

from __future__ import annotations

from uuid import UUID


class ScriptsError(Exception):
    """Base class of every error scripts-es raises on purpose.

    `hint`, when set, says what to try next (the CLI prints it after the message), so that
    callers never have to match message text.
    """

    hint: str | None = None


class InvalidInput(ScriptsError, ValueError):
    """A value the caller supplied breaks a rule; nothing was written."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFound(ScriptsError, LookupError):
    """No such script or execution for this tenant (or it was deleted)."""

    def __init__(self, kind: str, id: UUID | str) -> None:
        super().__init__(f"{kind} {id} not found")
        self.kind = kind
        self.id = id


class InvalidTransition(ScriptsError):
    """The aggregate's current state does not allow this behaviour."""


class Conflict(ScriptsError):
    """The change collides with another one; retry after re-reading."""


class ConcurrencyConflict(Conflict):
    """The stream moved since the instance was loaded (optimistic concurrency)."""

    def __init__(self, aggregate_id: UUID, expected_version: int | None = None) -> None:
        detail = f" (expected version {expected_version})" if expected_version is not None else ""
        super().__init__(f"{aggregate_id} was changed by someone else{detail}; reload and retry")
        self.aggregate_id = aggregate_id
        self.expected_version = expected_version


class RouteConflict(Conflict):
    """Another live http script of the tenant already serves this (method, path)."""

    def __init__(self, method: str, path: str) -> None:
        super().__init__(f"route {method} {path} is already taken by another script")
        self.method = method
        self.path = path


class VersionPruned(ScriptsError, LookupError):
    """The requested version lies below the retention horizon and is gone."""

    def __init__(self, script_id: UUID, version: int, horizon: int) -> None:
        super().__init__(
            f"version {version} of script {script_id} was pruned; the oldest kept is {horizon}"
        )
        self.script_id = script_id
        self.version = version
        self.horizon = horizon


class StorageUnavailable(ScriptsError):
    """The database could not be reached, even after retrying; nothing was written."""

    hint = "check --dsn or SCRIPTS_ES_DSN"


INSTALL_HINT = "is the schema installed? run `scripts-es db install`"


class StorageError(ScriptsError):
    """The database refused an operation for a reason the caller cannot fix."""

    def __init__(self, message: str, *, hint: str | None = INSTALL_HINT) -> None:
        super().__init__(message)
        self.hint = hint


class SchemaVersionMismatch(StorageError):
    """The database's schema version is not the one this code was written for."""

    def __init__(self, database_version: int | None, code_version: int, message: str) -> None:
        super().__init__(message, hint=None)  # the message names the command to run
        self.database_version = database_version
        self.code_version = code_version


class PermissionDenied(ScriptsError):
    """The database login may not do this (least privilege); the message names the role."""


class FeedHeldBack(ScriptsError):
    """Committed events got no feed position in time: an older transaction still in flight
    holds the horizon. The events are stored; the message names the backend holding them."""

"""Reads that need more than one statement, as steps (drivers run them): time travel and
version history. Single-statement reads (`find_by_id`, find, count) go straight to the pool."""

from __future__ import annotations

from uuid import UUID

from scripts_es.domain import Script
from scripts_es.errors import InvalidInput, NotFound, VersionPruned
from scripts_es.service.steps import Fetch, Hold, Load, Loaded, Steps
from scripts_es.store.database import QUERIES


def live_script(loaded: Loaded, script_id: UUID) -> Script:
    """The loaded script, or NotFound if it is absent or deleted."""
    if not isinstance(loaded.state, Script) or loaded.state.is_deleted:
        raise NotFound("script", script_id)
    return loaded.state


def version(script_id: UUID, wanted: object) -> Steps:
    """The script as it was at version `wanted` (VersionPruned below the horizon)."""
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted < 1:
        raise InvalidInput("version", "must be a positive integer")
    number = wanted  # above every stored version (bigint or not) is NotFound below
    # Both loads must see the same side of any concurrent prune.
    yield Hold(script_id, shared=True)
    loaded: Loaded = yield Load("script", script_id)
    if number > live_script(loaded, script_id).version:
        raise NotFound("script version", f"{script_id}@{number}")
    horizon = loaded.horizon or 1
    if number < horizon:
        raise VersionPruned(script_id, number, horizon)
    past: Loaded = yield Load("script", script_id, upto=number)
    if not isinstance(past.state, Script) or past.state.version != number:
        raise VersionPruned(script_id, number, horizon)  # never an older state
    return past.state


def history(tenant_id: UUID, script_id: UUID) -> Steps:
    """Rows (version, updated_at, updated_by, change) of every retained version, ascending."""
    live_script((yield Load("script", script_id)), script_id)
    return (
        yield Fetch(QUERIES["version_history"], {"tenant_id": tenant_id, "script_id": script_id})
    )

"""Settings: every default of the module and its validation, in one place.

`ScriptsModule.open(...)` builds one from its keyword arguments; sessions, the pipeline and the
event store hold a reference to it, so no default is written twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from scripts_es.domain import VersionRetentionPolicy
from scripts_es.errors import InvalidInput

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    """Now, in UTC."""
    return datetime.now(UTC)


def _count(name: str, value: object, *, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(name, "must be an integer")
    if value < minimum:
        raise InvalidInput(name, f"must be {minimum} or more")
    return value


@dataclass(frozen=True)
class AutoPrune:
    """Prune a script's history under `policy` each time its version reaches a multiple of
    `every`, right after the write that got it there (so no host loop is needed)."""

    policy: VersionRetentionPolicy
    every: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.policy, VersionRetentionPolicy):
            raise InvalidInput("policy", "must be a VersionRetentionPolicy")
        if self.policy.max_versions is None and self.policy.retention_days is None:
            raise InvalidInput("policy", "set max_versions and/or retention_days")
        if isinstance(self.every, bool) or not isinstance(self.every, int) or self.every < 1:
            raise InvalidInput("every", "must be a positive integer")

    def due(self, before: int, after: int) -> bool:
        """Whether a write that took a stream from `before` to `after` crossed a multiple."""
        return before // self.every != after // self.every


@dataclass(frozen=True)
class Settings:
    """How a module behaves. Every field has its one default here."""

    snapshot_every: int = 20  # store a snapshot every N events of a stream (0: never)
    cache_size: int = 1024  # aggregates kept in memory for the command path (0: off)
    pool_size: int = 8  # connections of the tenant pool (maintenance gets half, at least 2)
    retries: int = 3  # transient failures retried before StorageUnavailable
    inline_projections: bool = True  # read model written in the command's transaction
    projection_timeout: float = 10.0  # seconds reads wait for the runner (inline off)
    auto_prune: AutoPrune | None = None
    clock: Clock = field(default=system_clock)

    def __post_init__(self) -> None:
        _count("snapshot_every", self.snapshot_every, minimum=0)
        _count("cache_size", self.cache_size, minimum=0)
        _count("pool_size", self.pool_size, minimum=1)
        _count("retries", self.retries, minimum=0)
        if not isinstance(self.inline_projections, bool):
            raise InvalidInput("inline_projections", "must be True or False")
        timeout = self.projection_timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
            raise InvalidInput("projection_timeout", "must be a positive number of seconds")
        if self.auto_prune is not None and not isinstance(self.auto_prune, AutoPrune):
            raise InvalidInput("auto_prune", "must be an AutoPrune")
        if not callable(self.clock):
            raise InvalidInput("clock", "must be a callable returning an aware datetime")

    def with_clock(self, clock: Clock) -> Settings:
        """The same settings with another clock."""
        return replace(self, clock=clock)

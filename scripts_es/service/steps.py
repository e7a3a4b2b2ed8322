"""The vocabulary between decisions and drivers: what a handler asks for, what it decides.

Handlers and reads are generators: they yield `Hold`, `Load` and `Fetch` requests and
receive their answers, and they return a `Decision`. They do no I/O themselves, so the same
decisions can be driven by a blocking or an asyncio driver.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from scripts_es.domain import Execution, PruneResult, Script

Kind = Literal["script", "execution"]
Aggregate = Script | Execution
Result = Script | Execution | PruneResult | int  # int: executions removed by a prune


@dataclass(frozen=True)
class Hold:
    """Lock a stream until the transaction ends (exclusive, or shared with other holders)."""

    stream_id: UUID
    shared: bool = True


@dataclass(frozen=True)
class Load:
    """A stream's state (None if it has no events), optionally as it was at `upto`.

    `cached` lets the driver answer from the command cache: only for the aggregate the
    command goes on to write, whose append checks the stream's head.
    """

    kind: Kind
    stream_id: UUID
    upto: int | None = None
    cached: bool = False


@dataclass(frozen=True)
class Loaded:
    """A `Load`'s answer: the state, and the oldest version still stored (the horizon)."""

    state: Aggregate | None
    horizon: int | None


@dataclass(frozen=True)
class Fetch:
    """Run a named read query (its text and parameters) and answer every row."""

    query: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Statement:
    """A write beyond appending events (a prune's truncation): query text and parameters."""

    query: str
    params: dict[str, Any]


@dataclass(frozen=True)
class Decision:
    """What a handler decided: the answer, the aggregates whose pending events to append,
    states to store whole as snapshots, and other statements (a prune's truncation), all to
    run in one transaction."""

    result: Result
    saved: tuple[Aggregate, ...] = ()
    snapshots: tuple[Aggregate, ...] = ()
    statements: tuple[Statement, ...] = field(default=())


Request = Hold | Load | Fetch
Steps = Generator[Request, Any, Any]


@dataclass(frozen=True)
class Context:
    """What a decision may know beyond its command: who acts, for which tenant, and when."""

    tenant_id: UUID
    user_id: UUID
    clock: Callable[[], datetime]
    use_cache: bool = True

    def now(self) -> datetime:
        return self.clock()

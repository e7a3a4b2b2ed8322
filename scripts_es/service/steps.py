"""The vocabulary between decisions and drivers: what a handler asks for, what it decides.

Handlers and reads are generators: they yield `Hold`, `Load` and `Fetch` requests and
receive their answers, and they return a `Decision`. They do no I/O themselves, so the same
decisions can be driven by a blocking or an asyncio driver.

Two levels of steps, each answered by a driver (`service/unit_of_work.py` blocking,
`scripts_es/aio/driver.py` asyncio):

- inside one transaction (`Steps`): `service/transaction.py` turns `Load` and `Hold` into
  `Fetch` and `Statement`, so a driver answers only those two (rows, or nothing);
- around transactions (`Outer`): `Transaction` (run these steps in one tenant transaction,
  answer their return value or throw their error back), `Fetch` alone (one statement in its
  own round trip) and `Pause` (wait before a retry). The pipeline's retries, in-doubt check
  and after-commit effects (`service/pipeline.py`) are written once at this level;
- across tenants (`Operator`, `service/maintenance.py`): `Maintenance` (SQL steps in one
  maintenance transaction) and `InTenant` (outer steps in another tenant's session).
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

    `cached` lets the driver answer from the command cache: the stream's head is checked
    against the cached version before commit (by the append that writes it, or under the
    transaction's hold of it, or under its lock), and a moved stream is decided again.
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
    """Run a named read query (its text and parameters) and answer every row.

    `prepare`: psycopg's `prepare` argument (None: prepared once used often enough)."""

    query: str
    params: dict[str, Any] | None
    prepare: bool | None = None


@dataclass(frozen=True)
class Statement:
    """A write (an append, a prune's truncation): query text and parameters. `appends` marks
    a statement that appends events, so that the driver wakes the feed's listeners once its
    transaction committed."""

    query: str
    params: dict[str, Any]
    appends: bool = False


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
SqlSteps = Generator[Fetch | Statement, Any, Any]  # what a driver answers inside a transaction


@dataclass(frozen=True)
class Transaction:
    """Run the steps `steps()` makes in one tenant transaction (fresh ones per attempt);
    answer their return value, or throw their error (a `ScriptsError`) back."""

    steps: Callable[[], SqlSteps]


@dataclass(frozen=True)
class Pause:
    """Wait `seconds` before trying again; after an outage, drop dead pooled connections."""

    seconds: float
    outage: bool = False


OuterRequest = Transaction | Fetch | Pause
Outer = Generator[OuterRequest, Any, Any]


@dataclass(frozen=True)
class Maintenance:
    """Run the SQL steps `steps()` makes in one maintenance transaction (every tenant)."""

    steps: Callable[[], SqlSteps]


@dataclass(frozen=True)
class InTenant:
    """Run `operation(session)` in a session of `tenant_id` acting as `user_id`; answer its
    result, or throw its error back (operator work across tenants)."""

    tenant_id: UUID
    user_id: UUID
    operation: Callable[[Any], Outer]


Operator = Generator[Maintenance | InTenant, Any, Any]


@dataclass(frozen=True)
class Context:
    """What a decision may know beyond its command: who acts, for which tenant, and when."""

    tenant_id: UUID
    user_id: UUID
    clock: Callable[[], datetime]
    use_cache: bool = True

    def now(self) -> datetime:
        return self.clock()

"""The demo's cast and clock: two fresh tenants, three users, and time that moves on cue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from rich.console import RenderableType

from scripts_es import ScriptsModule, TenantSession
from scripts_es.domain import Execution, Script
from scripts_es.errors import ScriptsError


@dataclass(frozen=True)
class Section:
    """One chapter of the tour: a rich view for people, plain data for --json."""

    title: str
    lead: str
    view: RenderableType
    data: dict[str, Any]


class StoryClock:
    """A clock that starts a few hours ago and only moves when the story says so.

    It makes durations and history timestamps readable (a run "took 4.2 s") and keeps every
    event in the past, so later retention runs treat demo data like any other.
    """

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def tick(self, seconds: float) -> datetime:
        """Move on by `seconds` and return the new time."""
        self.now += timedelta(seconds=seconds)
        return self.now


@dataclass
class Story:
    """Everything the chapters share: who acts, for which tenant, and what they made."""

    acme: UUID
    globex: UUID
    users: dict[UUID, str]
    clock: StoryClock
    alice: TenantSession
    bob: TenantSession
    gina: TenantSession
    module: ScriptsModule  # on the story's clock: schedulers and workers
    scripts: dict[str, Script] = field(default_factory=dict)
    runs: dict[str, Execution] = field(default_factory=dict)

    @classmethod
    def begin(cls, module: ScriptsModule) -> Story:
        """Fresh tenant and user ids, so every run of the demo starts on a clean slate."""
        acme, globex = uuid4(), uuid4()
        alice, bob, gina = uuid4(), uuid4(), uuid4()
        clock = StoryClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=3))
        timed = module.with_clock(clock)
        return cls(
            acme=acme,
            globex=globex,
            users={alice: "alice", bob: "bob", gina: "gina"},
            clock=clock,
            alice=timed.tenant(acme, alice),
            bob=timed.tenant(acme, bob),
            gina=timed.tenant(globex, gina),
            module=timed,
        )

    def who(self, user: UUID | None) -> str:
        """A user's name in the story (or the id of a stranger)."""
        if user is None:
            return "system"
        return self.users.get(user, str(user)[:8])

    def tenant_name(self, tenant_id: UUID) -> str:
        """'Acme' or 'Globex'."""
        return {self.acme: "Acme", self.globex: "Globex"}.get(tenant_id, str(tenant_id)[:8])


@dataclass(frozen=True)
class Attempt:
    """Something the story tries that may be refused: what was tried and what came of it."""

    actor: str
    action: str
    outcome: str
    message: str
    refused: bool


def attempt(actor: str, action: str, work: Callable[[], object], success: str) -> Attempt:
    """Run `work`; a ScriptsError is the outcome to show, not a failure of the demo."""
    try:
        work()
    except ScriptsError as error:
        return Attempt(actor, action, type(error).__name__, str(error), refused=True)
    return Attempt(actor, action, "ok", success, refused=False)

"""A COMMIT whose answer is lost (the connection drops right after the server committed) is
not applied twice: the shared pipeline's next attempt asks whether it committed and answers
its result. The same fault, injected into each driver's transaction, gives the same outcome."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from scripts_es import AsyncScriptsModule, ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import Script
from scripts_es.errors import StorageUnavailable
from tests.aio.support import BlockingTenant, Loop
from tests.support.commands import create_command
from tests.support.raw import stream_versions

LOST = "the server committed, but the answer was lost"


class Fault:
    """Armed, the next transaction commits and then fails as if its answer was lost."""

    def __init__(self) -> None:
        self.armed = False
        self.fired = 0

    def after_commit(self) -> None:
        if self.armed:
            self.armed = False
            self.fired += 1
            raise StorageUnavailable(LOST)


def lossy_sync(module: ScriptsModule, fault: Fault, monkeypatch: pytest.MonkeyPatch) -> None:
    real = module.db.tenant

    @contextmanager
    def tenant(tenant_id: uuid.UUID) -> Iterator[Any]:
        with real(tenant_id) as conn:
            yield conn
        fault.after_commit()

    monkeypatch.setattr(module.db, "tenant", tenant)


def lossy_async(module: AsyncScriptsModule, fault: Fault, monkeypatch: pytest.MonkeyPatch) -> None:
    real = module.db.in_tenant

    async def in_tenant(tenant_id: uuid.UUID, work: Callable[[Any], Awaitable[Any]]) -> Any:
        done = await real(tenant_id, work)
        fault.after_commit()
        return done

    monkeypatch.setattr(module.db, "in_tenant", in_tenant)


@pytest.mark.parametrize("driver", ["sync", "async"])
@pytest.mark.parametrize("with_command_id", [False, True])
def test_a_commit_whose_answer_was_lost_is_applied_once_and_answered(
    driver: str,
    with_command_id: bool,
    module: ScriptsModule,
    amodule: AsyncScriptsModule,
    loop: Loop,
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fault = Fault()
    tenant, user = uuid.uuid4(), uuid.uuid4()
    if driver == "sync":
        lossy_sync(module, fault, monkeypatch)
        t: Any = module.tenant(tenant, user)
    else:
        lossy_async(amodule, fault, monkeypatch)
        t = BlockingTenant(amodule.tenant(tenant, user), loop)
    script: Script = t.handle(create_command())
    extra = {"command_id": uuid.uuid4()} if with_command_id else {}
    fault.armed = True
    # Deciding again would start a second execution (each start draws a new id).
    started = t.handle(c.StartExecution(script_id=script.id, trigger={"type": "api"}, **extra))
    assert fault.fired == 1
    assert t.executions.find_for_script(script.id) == [started]
    assert stream_versions(dsn, started.id) == [1]
    assert t.executions.find_by_id(started.id) == started

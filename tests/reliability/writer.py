"""One writer process of the fault harness: random commands with fresh command_ids, journaled.

    python -m tests.reliability.writer '<json config>'

The writer opens its own `ScriptsModule.open(dsn, install=False)` and sends commands of every
kind over a fixed set of script slots in several tenants until the stop file appears. Slot `i` of
a tenant always holds a script of type TYPES[i % 4]; its id is derived from (run, tenant, slot,
generation), and a generation is retired when its script is deleted, so every writer converges
on the same live script per slot without talking to the others.

Most commands carry a marker (their command_id in hex) in their payload, so that the checks can
find the one event each produced, and tell a duplicate from a lost write. Some deliberately carry
values from a small pool instead (no-ops and route conflicts happen), and some carry an
`expected_version` the writer last saw (stale on purpose, sometimes).
"""

from __future__ import annotations

import random
import sys
import time
import traceback
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import Execution, PruneResult, Script
from scripts_es.errors import NotFound, RouteConflict, ScriptsError, StorageUnavailable
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.reliability.journal import Journal, digest

TYPES = ("cron", "http", "one_off", "embedded")
CONTENT_POOL = ("print('A')", "print('B')", "print('C')")
DESCRIPTION_POOL = ("", "shared description")
CRON_POOL = (
    {"cron_expression": "*/5 * * * *", "timezone": "UTC"},
    {"cron_expression": "0 3 * * 1-5", "timezone": "Europe/Berlin"},
    {"cron_expression": "30 2 * * *", "timezone": "America/New_York"},
)
ROUTE_POOL = tuple(f"/hooks/{i}" for i in range(3))
TAG_POOL = ("alpha", "beta", "gamma", "delta")
NAMESPACE = uuid.UUID("6b0b8e5c-3f4a-4c55-9d43-5e1f0f6d2a10")

# Relative weights of the commands on a live slot.
WEIGHTS: dict[str, int] = {
    "UpdateScriptContent": 20,
    "ChangeScriptMetadata": 7,
    "ChangeScriptDetails": 8,
    "EnableScript": 6,
    "DisableScript": 5,
    "DeleteScript": 1,
    "StartExecution": 9,
    "EnqueueExecution": 7,
    "BeginExecution": 7,
    "CompleteExecution": 10,
    "PruneScriptHistory": 3,
    "read": 5,
}


def script_id_for(run_id: str, tenant: str, slot: int, generation: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{run_id}/{tenant}/{slot}/{generation}")


def user_for(run_id: str, writer: int) -> uuid.UUID:
    return uuid.uuid5(NAMESPACE, f"{run_id}/user/{writer}")


def result_of(result: Any) -> tuple[str, int, Any]:
    """(aggregate id, the version the result names, its JSON) of a command's result."""
    if isinstance(result, Script | Execution):
        return str(result.id), result.version, result.model_dump(mode="json")
    if isinstance(result, PruneResult):
        return str(result.script_id), result.horizon, result.model_dump(mode="json")
    raise TypeError(f"unexpected result {type(result).__name__}")


@dataclass
class Slot:
    generation: int = 0
    needs_create: bool = True
    version: int | None = None  # the last version this writer saw


@dataclass
class Config:
    dsn: str
    journal: str
    stop_file: str
    run_id: str
    writer: int
    generation: int
    seed: int
    tenants: list[str]
    slots: int
    retries: int = 60
    retry_sleep: float = 0.25
    max_seconds: float = 600.0
    think: float = 0.0  # seconds to sleep between commands


@dataclass
class Writer:
    cfg: Config
    journal: Journal
    rng: random.Random
    user: uuid.UUID
    module: ScriptsModule | None = None
    sessions: dict[str, TenantSession] = field(default_factory=dict)
    slots: dict[tuple[str, int], Slot] = field(default_factory=dict)
    executions: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (tenant, script)

    # -- module --------------------------------------------------------------------------------

    def open(self) -> None:
        while self.module is None and not self.stopping():
            try:
                self.module = ScriptsModule.open(self.cfg.dsn, install=False, pool_size=4)
            except ScriptsError as error:
                self.journal.write({"t": "err", "kind": "open", "error": type(error).__name__})
                time.sleep(self.cfg.retry_sleep)
            except Exception as error:
                self.nonlib(error, "open", None)
                time.sleep(self.cfg.retry_sleep)
        self.sessions.clear()

    def reopen(self) -> None:
        if self.module is not None:
            try:
                self.module.close()
            except Exception as error:
                self.nonlib(error, "close", None)
            self.module = None
        self.open()

    def session(self, tenant: str) -> TenantSession:
        assert self.module is not None
        if tenant not in self.sessions:
            self.sessions[tenant] = self.module.tenant(uuid.UUID(tenant), self.user)
        return self.sessions[tenant]

    def stopping(self) -> bool:
        return Path(self.cfg.stop_file).exists()

    # -- journal -------------------------------------------------------------------------------

    def nonlib(self, error: BaseException, kind: str, command: dict[str, Any] | None) -> None:
        self.journal.write(
            {
                "t": "nonlib",
                "kind": kind,
                "type": f"{type(error).__module__}.{type(error).__qualname__}",
                "message": str(error)[:2000],
                "command": command,
                "traceback": traceback.format_exc()[-4000:],
            },
            sync=True,
        )

    # -- commands ------------------------------------------------------------------------------

    def slot(self, tenant: str, index: int) -> Slot:
        return self.slots.setdefault((tenant, index), Slot())

    def pick(self) -> tuple[str, int, Slot]:
        tenant = self.rng.choice(self.cfg.tenants)
        index = self.rng.randrange(self.cfg.slots)
        return tenant, index, self.slot(tenant, index)

    def metadata(self, type_: str, marker: str) -> dict[str, Any]:
        if type_ == "cron":
            return dict(self.rng.choice(CRON_POOL))
        if type_ == "http":
            path = self.rng.choice(ROUTE_POOL) if self.rng.random() < 0.5 else f"/r/{marker}"
            return {"path": path, "method": self.rng.choice(("GET", "post"))}
        return {}

    def expected(self, slot: Slot) -> int | None:
        if slot.version is not None and self.rng.random() < 0.15:
            return slot.version
        return None

    def make(self) -> tuple[str, str, c.Command | None, str | None, str | None]:
        """(tenant, kind, command, aggregate id, marker) of the next operation."""
        tenant, index, slot = self.pick()
        type_ = TYPES[index % len(TYPES)]
        sid = script_id_for(self.cfg.run_id, tenant, index, slot.generation)
        command_id = uuid.uuid4()
        marker = command_id.hex
        rng = self.rng
        if slot.needs_create:
            cmd: c.Command = c.CreateScript(
                command_id=command_id,
                script_id=sid,
                name=f"slot {index} gen {slot.generation}",
                content=f"print('{marker}')",
                type=type_,
                metadata=self.metadata(type_, marker),
                description=rng.choice(DESCRIPTION_POOL),
                tags=rng.sample(TAG_POOL, rng.randrange(3)),
            )
            return tenant, "CreateScript", cmd, str(sid), marker
        kinds = list(WEIGHTS)
        kind = rng.choices(kinds, weights=[WEIGHTS[k] for k in kinds])[0]
        mine = [e for e, (t, s) in self.executions.items() if t == tenant]
        if kind in ("BeginExecution", "CompleteExecution") and not mine:
            kind = "StartExecution"
        expected = self.expected(slot)
        if kind == "UpdateScriptContent":
            if rng.random() < 0.3:  # pooled content: a no-op when the script already has it
                content, marker_or_none = rng.choice(CONTENT_POOL), None
            else:
                content, marker_or_none = f"print('{marker}')", marker
            cmd = c.UpdateScriptContent(
                command_id=command_id, script_id=sid, content=content, expected_version=expected
            )
            return tenant, kind, cmd, str(sid), marker_or_none
        if kind == "ChangeScriptMetadata":
            metadata = self.metadata(type_, marker)
            has_marker = marker in orjson.dumps(metadata).decode()
            cmd = c.ChangeScriptMetadata(
                command_id=command_id, script_id=sid, metadata=metadata, expected_version=expected
            )
            return tenant, kind, cmd, str(sid), marker if has_marker else None
        if kind == "ChangeScriptDetails":
            # The event carries name, description and tags: the description is always set, so
            # an event never repeats an older command's marker.
            pooled = rng.random() < 0.3
            cmd = c.ChangeScriptDetails(
                command_id=command_id,
                script_id=sid,
                description=rng.choice(DESCRIPTION_POOL) if pooled else f"d {marker}",
                name=f"slot {index} {rng.choice(TAG_POOL)}" if rng.random() < 0.5 else None,
                tags=rng.sample(TAG_POOL, rng.randrange(3)) if rng.random() < 0.5 else None,
                expected_version=expected,
            )
            return tenant, kind, cmd, str(sid), None if pooled else marker
        if kind in ("EnableScript", "DisableScript", "DeleteScript"):
            cls = {
                "EnableScript": c.EnableScript,
                "DisableScript": c.DisableScript,
                "DeleteScript": c.DeleteScript,
            }[kind]
            return (
                tenant,
                kind,
                cls(command_id=command_id, script_id=sid, expected_version=expected),
                str(sid),
                None,
            )
        if kind in ("StartExecution", "EnqueueExecution"):
            trigger = rng.choice(
                ({"type": "api"}, {"type": "cron"}, {"type": "manual", "triggered_by": self.user})
            )
            execution_id = uuid.uuid4() if rng.random() < 0.5 else None
            cls2 = c.StartExecution if kind == "StartExecution" else c.EnqueueExecution
            cmd = cls2(
                command_id=command_id,
                script_id=sid,
                trigger=trigger,
                input={"cmd": marker, "n": rng.randrange(1000)},
                execution_id=execution_id,
            )
            return tenant, kind, cmd, str(execution_id) if execution_id else None, marker
        if kind == "BeginExecution":
            eid = rng.choice(mine)
            return (
                tenant,
                kind,
                c.BeginExecution(command_id=command_id, execution_id=uuid.UUID(eid)),
                eid,
                None,
            )
        if kind == "CompleteExecution":
            eid = rng.choice(mine)
            cmd = c.CompleteExecution(
                command_id=command_id,
                execution_id=uuid.UUID(eid),
                status=rng.choice(("completed", "failed", "timeout")),
                result={"output": f"out {marker}", "error": ""},
            )
            return tenant, kind, cmd, eid, marker
        if kind == "PruneScriptHistory":
            cmd = c.PruneScriptHistory(
                command_id=command_id, script_id=sid, max_versions=rng.randint(1, 5)
            )
            return tenant, kind, cmd, str(sid), None
        return tenant, "read", None, str(sid), None

    # -- one operation -------------------------------------------------------------------------

    def step(self) -> None:
        try:
            tenant, kind, cmd, aggregate, marker = self.make()
        except Exception as error:  # building a command is the harness's job
            self.journal.write(
                {"t": "harness", "error": repr(error), "traceback": traceback.format_exc()},
                sync=True,
            )
            return
        if cmd is None:
            self.read(tenant, aggregate)
            return
        command = cmd.model_dump(mode="json")
        sent = time.monotonic()
        self.journal.write(
            {
                "t": "send",
                "ts": sent,
                "kind": kind,
                "command_id": str(cmd.command_id),
                "tenant": tenant,
                "user": str(self.user),
                "aggregate": aggregate,
                "marker": marker,
                "command": command,
            }
        )
        doubt = 0
        for attempt in range(1, self.cfg.retries + 2):
            if self.module is None:
                self.open()
                if self.module is None:  # stopping while the database is down
                    break
            try:
                result = self.session(tenant).handle(cmd)
            except StorageUnavailable as error:
                doubt += 1
                self.journal.write(
                    {
                        "t": "unavailable",
                        "kind": kind,
                        "command_id": str(cmd.command_id),
                        "aggregate": aggregate,
                        "attempt": attempt,
                        "message": str(error)[:200],
                    }
                )
                if attempt > self.cfg.retries:
                    break
                time.sleep(self.cfg.retry_sleep)
                continue
            except ScriptsError as error:
                self.journal.write(
                    {
                        "t": "err",
                        "kind": kind,
                        "command_id": str(cmd.command_id),
                        "tenant": tenant,
                        "aggregate": aggregate,
                        "error": type(error).__name__,
                        "message": str(error)[:300],
                        "attempts": attempt,
                    }
                )
                self.after_error(tenant, kind, cmd, error)
                return
            except Exception as error:
                self.nonlib(error, kind, command)
                self.reopen()
                return
            aggregate_id, version, data = result_of(result)
            self.journal.write(
                {
                    "t": "ack",
                    "kind": kind,
                    "command_id": str(cmd.command_id),
                    "tenant": tenant,
                    "user": str(self.user),
                    "aggregate": aggregate_id,
                    "version": version,
                    "digest": digest(data),
                    "result": data,
                    "sent": sent,
                    "attempts": attempt,
                    "marker": marker,
                },
                sync=True,
            )
            self.after_ack(tenant, kind, cmd, result)
            return
        self.journal.write(
            {
                "t": "gave_up",
                "kind": kind,
                "command_id": str(cmd.command_id),
                "tenant": tenant,
                "aggregate": aggregate,
                "attempts": doubt,
            }
        )

    def slot_of(self, tenant: str, script_id: uuid.UUID) -> Slot | None:
        for index in range(self.cfg.slots):
            slot = self.slot(tenant, index)
            if script_id_for(self.cfg.run_id, tenant, index, slot.generation) == script_id:
                return slot
        return None

    def after_ack(self, tenant: str, kind: str, cmd: c.Command, result: Any) -> None:
        if isinstance(result, Script):
            slot = self.slot_of(tenant, result.id)
            if slot is not None:
                slot.needs_create = False
                slot.version = result.version
                if result.is_deleted:
                    slot.generation += 1
                    slot.needs_create = True
                    slot.version = None
        elif isinstance(result, Execution):
            self.executions[str(result.id)] = (tenant, str(result.script_id))
            if len(self.executions) > 60:
                self.executions.pop(next(iter(self.executions)))

    def after_error(self, tenant: str, kind: str, cmd: c.Command, error: ScriptsError) -> None:
        script_id = getattr(cmd, "script_id", None)
        if script_id is None:
            if isinstance(error, NotFound):  # an execution removed by retention
                self.executions.pop(str(getattr(cmd, "execution_id", "")), None)
            return
        slot = self.slot_of(tenant, script_id)
        if slot is None:
            return
        if kind != "CreateScript":
            if isinstance(error, NotFound):
                slot.needs_create = True
            return
        if isinstance(error, RouteConflict):
            return  # try again later, with another route
        # The id exists or existed: live (someone else created it), or deleted (retire it).
        try:
            current = self.session(tenant).scripts.find_by_id(script_id)
        except NotFound:
            slot.generation += 1
            slot.version = None
        except ScriptsError:
            return
        except Exception as exc:
            self.nonlib(exc, "find_by_id", None)
            return
        else:
            slot.needs_create = False
            slot.version = current.version

    def read(self, tenant: str, aggregate: str | None) -> None:
        t = self.session(tenant)
        try:
            if aggregate is not None and self.rng.random() < 0.7:
                for execution in t.executions.find_for_script(
                    uuid.UUID(aggregate), ExecutionFindParams(limit=20)
                ):
                    if execution.status in ("pending", "running"):
                        self.executions[str(execution.id)] = (tenant, str(execution.script_id))
            else:
                t.scripts.find(ScriptFindParams(search="slot", sort=[("version", "desc")]))
                t.scripts.count(ScriptFindParams(enabled=True))
        except ScriptsError as error:
            self.journal.write({"t": "err", "kind": "read", "error": type(error).__name__})
        except Exception as error:
            self.nonlib(error, "read", None)
            self.reopen()

    def run(self) -> None:
        self.journal.write(
            {
                "t": "start",
                "writer": self.cfg.writer,
                "generation": self.cfg.generation,
                "pid": __import__("os").getpid(),
            },
            sync=True,
        )
        deadline = time.monotonic() + self.cfg.max_seconds
        self.open()
        while not self.stopping() and time.monotonic() < deadline:
            self.step()
            if self.cfg.think:
                time.sleep(self.cfg.think)
        self.journal.write({"t": "stop"}, sync=True)
        if self.module is not None:
            self.module.close()


def main(argv: list[str]) -> int:
    cfg = Config(**orjson.loads(argv[0]))
    journal = Journal(Path(cfg.journal))
    writer = Writer(
        cfg=cfg,
        journal=journal,
        rng=random.Random(f"{cfg.seed}/{cfg.writer}/{cfg.generation}"),
        user=user_for(cfg.run_id, cfg.writer),
    )
    try:
        writer.run()
    except BaseException as error:
        journal.write(
            {"t": "harness", "error": repr(error), "traceback": traceback.format_exc()}, sync=True
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

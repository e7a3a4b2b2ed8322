"""Command handlers: plain generator functions `(command, context) -> Decision`.

Each yields the reads it needs (`steps.Load`, `Hold`, `Fetch`), decides through the domain
and returns what to write; none does I/O. `HANDLERS` maps every command type to its handler.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from scripts_es import commands
from scripts_es.domain import Execution, Script
from scripts_es.domain import schedule as cron
from scripts_es.domain.values import CronMetadata, TriggerType, utc
from scripts_es.errors import ConcurrencyConflict, InvalidInput, InvalidTransition, NotFound
from scripts_es.service import retention
from scripts_es.service.steps import Context, Decision, Fetch, Hold, Load, Loaded, Statement, Steps
from scripts_es.store.database import QUERIES

CommandT = TypeVar("CommandT", bound=commands.Command)
Handler = Callable[[Any, Context], Generator[Any, Any, Decision]]


def expect(aggregate: Script | Execution, expected: int | None) -> None:
    """Optimistic concurrency on the caller's side: `expected_version`, if given."""
    if expected is not None and aggregate.version != expected:
        raise ConcurrencyConflict(aggregate.id, expected)


def saved(aggregate: Script | Execution) -> Decision:
    """Append the aggregate's pending events (none: a no-op) and answer its new state."""
    return Decision(aggregate.without_pending(), (aggregate,) if aggregate.pending_events else ())


def live_script(script_id: UUID, *, cached: bool, expected: int | None = None) -> Steps:
    """The script's current state; NotFound if it is absent or deleted."""
    loaded: Loaded = yield Load("script", script_id, cached=cached)
    if not isinstance(loaded.state, Script) or loaded.state.is_deleted:
        raise NotFound("script", script_id)
    expect(loaded.state, expected)
    return loaded.state


def runnable_script(script_id: UUID, *, cached: bool = False) -> Steps:
    """The script an execution starts from, held (shared) until commit so that a concurrent
    disable or delete lands before or after: live and enabled, else NotFound/InvalidTransition.

    With `cached`, the command cache may answer: the version it has is checked under the
    hold before commit (a moved script is loaded and the command decided again)."""
    yield Hold(script_id, shared=True)
    script: Script = yield from live_script(script_id, cached=cached)
    if cached and not script.is_enabled:  # a refusal is never decided on a cached state
        script = yield from live_script(script_id, cached=False)
    if not script.is_enabled:
        raise InvalidTransition(f"script {script.id} is disabled and cannot run")
    return script


def execution(execution_id: UUID, *, cached: bool, expected: int | None) -> Steps:
    """The execution's current state; NotFound if it is absent."""
    loaded: Loaded = yield Load("execution", execution_id, cached=cached)
    if not isinstance(loaded.state, Execution):
        raise NotFound("execution", execution_id)
    expect(loaded.state, expected)
    return loaded.state


def create_script(cmd: commands.CreateScript, ctx: Context) -> Steps:
    if cmd.expected_version is not None:
        raise InvalidInput("expected_version", "a new script has no version to expect")
    yield from ()
    script = Script.create(
        tenant_id=ctx.tenant_id,
        created_by=ctx.user_id,
        name=cmd.name,
        content=cmd.content,
        type=cmd.type,
        metadata=cmd.metadata,
        description=cmd.description,
        tags=cmd.tags,
        id=cmd.script_id,
        at=ctx.now(),
    )
    return saved(script)


def change_script(cmd: commands.ScriptCommand, ctx: Context) -> Steps:
    """Every change of an existing script: load it (the cache may answer), apply one behaviour."""
    assert not isinstance(cmd, commands.CreateScript)
    script: Script = yield from live_script(
        cmd.script_id, cached=ctx.use_cache, expected=cmd.expected_version
    )
    at, user = ctx.now(), ctx.user_id
    if isinstance(cmd, commands.UpdateScriptContent):
        return saved(script.update_content(cmd.content, user, at=at))
    if isinstance(cmd, commands.ChangeScriptMetadata):
        return saved(script.change_metadata(cmd.metadata, user, at=at))
    if isinstance(cmd, commands.ChangeScriptDetails):
        changed = script.change_details(
            by_user=user, name=cmd.name, description=cmd.description, tags=cmd.tags, at=at
        )
        return saved(changed)
    if isinstance(cmd, commands.EnableScript):
        return saved(script.enable(user, at=at))
    if isinstance(cmd, commands.DisableScript):
        return saved(script.disable(user, at=at))
    return saved(script.delete(user, at=at))


def start_execution(cmd: commands.StartExecution, ctx: Context) -> Steps:
    # expected_version, if given, is the script version the caller means to run.
    script: Script = yield from runnable_script(cmd.script_id, cached=ctx.use_cache)
    expect(script, cmd.expected_version)
    opener = Execution.enqueue if isinstance(cmd, commands.EnqueueExecution) else Execution.start
    started = opener(
        script=script,
        trigger=cmd.trigger.model_dump(),
        input=cmd.input,
        id=cmd.execution_id,
        at=ctx.now(),
    )
    return saved(started)


def begin_execution(cmd: commands.BeginExecution, ctx: Context) -> Steps:
    run: Execution = yield from execution(
        cmd.execution_id, cached=ctx.use_cache, expected=cmd.expected_version
    )
    return saved(run.begin(at=ctx.now()))


def complete_execution(cmd: commands.CompleteExecution, ctx: Context) -> Steps:
    run: Execution = yield from execution(
        cmd.execution_id, cached=ctx.use_cache, expected=cmd.expected_version
    )
    return saved(run.complete(cmd.status, cmd.result, at=ctx.now()))


def fire_scheduled_run(cmd: commands.FireScheduledRun, ctx: Context) -> Steps:
    """One pending cron execution per (script, slot): its id is derived from the slot, and its
    stream is held exclusively while it is looked up, so concurrent schedulers of the same slot
    queue behind each other and all answer the one execution."""
    script: Script = yield from runnable_script(cmd.script_id)
    expect(script, cmd.expected_version)
    schedule = script.metadata
    if not isinstance(schedule, CronMetadata):
        raise InvalidInput(
            "script_id", f"script {script.id} is a {script.type.value} script, not cron"
        )
    slot, now = utc(cmd.scheduled_for, "scheduled_for"), ctx.now()
    if not cron.is_slot(schedule, slot):
        raise InvalidInput(
            "scheduled_for",
            f"{slot.isoformat()} is not a slot of {schedule.cron_expression!r} in "
            f"{schedule.timezone}; fire a slot that due() returned",
        )
    if slot > now:
        raise InvalidInput(
            "scheduled_for", f"{slot.isoformat()} is not due yet (now {now.isoformat()})"
        )
    rows = yield Fetch(QUERIES["schedule_of"], {"tenant_id": ctx.tenant_id, "script_id": script.id})
    if not rows:
        raise InvalidTransition(f"script {script.id} has no schedule to fire")
    _anchor, last_fired, next_due = rows[0]
    if slot < next_due:  # passed already: answer the run that fired it (or covered it)
        covering = [slot] + ([last_fired] if last_fired is not None and last_fired > slot else [])
        for fired in covering:
            earlier: Execution | None = yield from fired_run(ctx, script.id, fired)
            if earlier is not None:
                return Decision(earlier)
        raise InvalidTransition(
            f"slot {slot.isoformat()} of script {script.id} is not due: "
            f"its next slot is {next_due.isoformat()}"
        )
    missed = cron.latest_missed(schedule, next_due - cron.SECOND, now)
    assert missed is not None  # `slot` itself is a passed slot
    slot = missed.slot
    advance = Statement(
        QUERIES["advance_schedule"],
        {
            "tenant_id": ctx.tenant_id,
            "script_id": script.id,
            "slot": slot,
            "next_fire_at": cron.next_fire(schedule, slot),
        },
    )
    existing: Execution | None = yield from fired_run(ctx, script.id, slot)
    if existing is not None:  # fired already, by this or another scheduler
        return Decision(existing, statements=(advance,))  # (the schedule moves on anyway)
    trigger = {"type": TriggerType.CRON, "scheduled_for": slot, "skipped_slots": missed.skipped}
    run_id = cron.fired_execution_id(ctx.tenant_id, script.id, slot)
    run = Execution.enqueue(script=script, trigger=trigger, input=cmd.input, id=run_id, at=now)
    return Decision(run.without_pending(), (run,), statements=(advance,))


def fired_run(ctx: Context, script_id: UUID, slot: datetime) -> Steps:
    """The run of `script_id` at `slot`, if one was recorded; its stream stays held (exclusive)
    until commit, so that a concurrent firing of the slot waits and then finds it."""
    run_id = cron.fired_execution_id(ctx.tenant_id, script_id, slot)
    yield Hold(run_id, shared=False)
    loaded: Loaded = yield Load("execution", run_id)
    return loaded.state if isinstance(loaded.state, Execution) else None


def prune_history(cmd: commands.PruneScriptHistory, ctx: Context) -> Steps:
    policy = retention.policy_of(cmd)
    pruned: retention.Pruned = yield from retention.prune_script(
        cmd.script_id, policy, ctx, expected=cmd.expected_version
    )
    return pruned.decision


HANDLERS: dict[type[commands.Command], Handler] = {
    commands.CreateScript: create_script,
    commands.UpdateScriptContent: change_script,
    commands.ChangeScriptMetadata: change_script,
    commands.ChangeScriptDetails: change_script,
    commands.EnableScript: change_script,
    commands.DisableScript: change_script,
    commands.DeleteScript: change_script,
    commands.StartExecution: start_execution,
    commands.EnqueueExecution: start_execution,
    commands.BeginExecution: begin_execution,
    commands.CompleteExecution: complete_execution,
    commands.FireScheduledRun: fire_scheduled_run,
    commands.PruneScriptHistory: prune_history,
}

"""Hypothesis strategies for the pure domain: valid field values, value objects and aggregates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import available_timezones

from hypothesis import strategies as st

from scripts_es.domain import (
    CronMetadata,
    EmbeddedMetadata,
    Execution,
    ExecutionResult,
    ExecutionStatus,
    ExecutionTrigger,
    HTTPMetadata,
    LogEntry,
    OneOffMetadata,
    Script,
    ScriptType,
    TriggerType,
)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TERMINAL = (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED, ExecutionStatus.TIMEOUT)
STATUSES = frozenset(status.value for status in ExecutionStatus)
NOT_ZONES = frozenset({"localtime", "posixrules", "Factory", "leapseconds", "tzdata.zi"})
TIMEZONES = sorted(available_timezones() - NOT_ZONES)  # tzdata files that are not IANA zones

# Text PostgreSQL can hold: no NUL, no lone surrogates.
safe_chars = st.characters(exclude_categories=("Cs",), exclude_characters="\x00")
# Text without control characters (C0, DEL, C1 are exactly the Unicode category Cc).
printable_chars = st.characters(exclude_categories=("Cs", "Cc"))
# What a URL path may hold: no whitespace, no control characters.
path_chars = st.characters(exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp"))

safe_text = st.text(safe_chars, max_size=60)
uuids = st.uuids()
moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


def normalise_tags(tags: list[str]) -> tuple[str, ...]:
    """Reference for DESIGN §3 tags: strip, lower-case, drop duplicates keeping first-seen order."""
    out: list[str] = []
    for tag in tags:
        clean = tag.strip().lower()
        if clean not in out:
            out.append(clean)
    return tuple(out)


names = st.text(printable_chars, min_size=1, max_size=40).filter(
    lambda s: 1 <= len(s.strip()) <= 255
)
descriptions = st.text(safe_chars, max_size=80)
contents = st.text(safe_chars, max_size=200)
tags_one = st.text(printable_chars, min_size=1, max_size=12).filter(
    lambda t: 1 <= len(t.strip().lower()) <= 64
)
tag_lists = st.lists(tags_one, max_size=8)


def _cron_field(low: int, high: int) -> st.SearchStrategy[str]:
    return st.one_of(
        st.just("*"),
        st.integers(low, high).map(str),
        st.integers(1, high).map(lambda n: f"*/{n}"),
        st.tuples(st.integers(low, high), st.integers(low, high)).map(
            lambda ab: f"{min(ab)}-{max(ab)}"
        ),
    )


cron_expressions = st.tuples(
    _cron_field(0, 59),
    _cron_field(0, 23),
    _cron_field(1, 28),
    _cron_field(1, 12),
    _cron_field(0, 6),
).map(" ".join)
timezones = st.sampled_from(TIMEZONES)
http_paths = st.text(path_chars, max_size=40).map(lambda s: "/" + s)
methods_any_case = st.sampled_from(METHODS).flatmap(
    lambda m: st.sampled_from([m, m.lower(), m.capitalize()])
)

cron_metadata = st.builds(CronMetadata, cron_expression=cron_expressions, timezone=timezones)
http_metadata = st.builds(HTTPMetadata, path=http_paths, method=methods_any_case)


metadata_models: dict[ScriptType, st.SearchStrategy[Any]] = {
    ScriptType.CRON: cron_metadata,
    ScriptType.HTTP: http_metadata,
    ScriptType.ONE_OFF: st.just(OneOffMetadata()),
    ScriptType.EMBEDDED: st.just(EmbeddedMetadata()),
}


def metadata_for(type_: ScriptType) -> st.SearchStrategy[Any]:
    """Valid metadata for a script type, as a value object or as a plain dict (like JSON)."""
    model = metadata_models[type_]
    return st.one_of(model, model.map(lambda m: m.model_dump(exclude={"kind"})))


script_types = st.sampled_from(list(ScriptType))


@st.composite
def scripts(draw: st.DrawFn, enabled: bool | None = True) -> Script:
    """A freshly created script (one pending ScriptCreated)."""
    type_ = draw(script_types)
    return Script.create(
        tenant_id=draw(uuids),
        created_by=draw(uuids),
        name=draw(names),
        content=draw(contents),
        type=type_,
        metadata=draw(metadata_for(type_)),
        description=draw(descriptions),
        tags=draw(tag_lists),
        at=draw(moments),
    )


json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(allow_nan=False, allow_infinity=False),
    safe_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(safe_text, inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(safe_text, json_values, max_size=5)

triggers = st.one_of(
    st.builds(ExecutionTrigger, type=st.just(TriggerType.MANUAL), triggered_by=uuids),
    st.builds(
        ExecutionTrigger,
        type=st.sampled_from([TriggerType.CRON, TriggerType.API]),
        triggered_by=st.none() | uuids,
    ),
)
log_entries = st.builds(
    LogEntry,
    timestamp=moments,
    level=st.sampled_from(["debug", "info", "warning", "error"]),
    message=safe_text,
)
results = st.builds(
    ExecutionResult,
    output=st.text(safe_chars, max_size=100),
    error=st.text(safe_chars, max_size=100),
    logs=st.lists(log_entries, max_size=4).map(tuple),
)
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=10_000))


@st.composite
def executions(draw: st.DrawFn) -> Execution:
    """An execution in any status, with all its events still pending."""
    script = draw(scripts())
    opener = draw(st.sampled_from([Execution.start, Execution.enqueue]))
    started = draw(moments)
    execution = opener(script=script, trigger=draw(triggers), input=draw(json_objects), at=started)
    if execution.status is ExecutionStatus.PENDING and draw(st.booleans()):
        execution = execution.begin(at=started + draw(durations))
    if draw(st.booleans()):
        finished = started + draw(durations)
        execution = execution.complete(draw(st.sampled_from(TERMINAL)), draw(results), at=finished)
    return execution


@st.composite
def evolved_scripts(draw: st.DrawFn, max_steps: int = 8) -> Script:
    """A script after a random run of behaviours, with its whole history still pending."""
    script = draw(scripts())
    for _ in range(draw(st.integers(0, max_steps))):
        user, at = draw(uuids), draw(moments)
        step = draw(st.sampled_from(["content", "metadata", "details", "enable", "disable"]))
        if step == "content":
            script = script.update_content(draw(contents), user, at=at)
        elif step == "metadata":
            script = script.change_metadata(draw(metadata_for(script.type)), user, at=at)
        elif step == "details":
            name, tags = draw(names), draw(tag_lists)
            script = script.change_details(by_user=user, name=name, tags=tags, at=at)
        else:
            script = getattr(script, step)(user, at=at)
    if draw(st.booleans()):
        script = script.delete(draw(uuids), at=draw(moments))
    return script

"""Every event and snapshot survives the store's mapper; payloads of older code still load."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
import pytest
from eventsourcing.persistence import StoredEvent
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from scripts_es.domain import CronMetadata, Execution, HTTPMetadata, OneOffMetadata, Script
from scripts_es.domain.events import (
    EXECUTION_EVENTS,
    SCRIPT_EVENTS,
    DomainEvent,
    ExecutionCompleted,
    ExecutionQueued,
    ExecutionStarted,
    ScriptContentUpdated,
    ScriptCreated,
    ScriptDeleted,
    ScriptDetailsChanged,
    ScriptDisabled,
    ScriptEnabled,
    ScriptMetadataChanged,
)
from scripts_es.domain.execution import fold as fold_execution
from scripts_es.domain.script import fold as fold_script
from scripts_es.errors import InvalidTransition
from scripts_es.store.mapper import PydanticMapper
from tests.support import strategies as s

mapper = PydanticMapper()
base = {
    "originator_id": s.uuids,
    "originator_version": st.integers(1, 2**31),
    "tenant_id": s.uuids,
    "user_id": st.none() | s.uuids,
    "timestamp": st.datetimes(timezones=st.timezones()).filter(lambda d: d.year > 1),
}
opened = {"script_id": s.uuids, "script_version": st.integers(1, 2**31)}
opened |= {"trigger": s.triggers, "input": s.json_objects}
EVENTS: dict[type[DomainEvent], st.SearchStrategy[Any]] = {
    ScriptCreated: s.scripts().map(lambda script: script.pending_events[0]),
    ScriptContentUpdated: st.builds(
        ScriptContentUpdated, **base, content=s.contents, old_version=st.integers(1, 9)
    ).map(lambda e: e.model_copy(update={"new_version": e.old_version + 1})),
    ScriptMetadataChanged: s.script_types.flatmap(
        lambda t: st.builds(ScriptMetadataChanged, **base, metadata=s.metadata_models[t])
    ),
    ScriptDetailsChanged: st.builds(
        ScriptDetailsChanged, **base, name=s.names, description=s.descriptions, tags=s.tag_lists
    ),
    ScriptEnabled: st.builds(ScriptEnabled, **base),
    ScriptDisabled: st.builds(ScriptDisabled, **base),
    ScriptDeleted: st.builds(ScriptDeleted, **base),
    ExecutionQueued: st.builds(ExecutionQueued, **base, **opened),
    ExecutionStarted: st.builds(
        ExecutionStarted,
        **base,
        **opened,
        worker=st.none() | st.text(min_size=1, max_size=20),
        lease_expires_at=st.none()
        | st.datetimes(timezones=st.timezones()).filter(lambda d: d.year > 1),
    ),
    ExecutionCompleted: st.builds(
        ExecutionCompleted,
        **base,
        status=st.sampled_from(s.TERMINAL),
        result=s.results,
        duration=s.durations,
    ),
}


def test_there_is_a_strategy_for_every_event_class() -> None:
    assert set(EVENTS) == {*SCRIPT_EVENTS, *EXECUTION_EVENTS}


@settings(max_examples=150)
@given(event=st.one_of(list(EVENTS.values())))
def test_every_event_round_trips_through_the_mapper_and_through_json(event: DomainEvent) -> None:
    stored = mapper.to_stored_event(event)
    assert (stored.originator_id, stored.originator_version) == (
        event.originator_id,
        event.originator_version,
    )
    assert stored.topic == f"scripts_es.domain.events:{type(event).__name__}"
    payload = orjson.loads(stored.state)
    assert payload.get("class_version", 1) == type(event).class_version
    assert "originator_id" not in payload and "originator_version" not in payload
    assert mapper.to_domain_event(stored) == event
    assert type(event).model_validate_json(event.model_dump_json()) == event
    assert event.timestamp.utcoffset() == timedelta(0)


@settings(max_examples=200)
@given(event=st.one_of(list(EVENTS.values())))
def test_the_trusted_encoding_is_byte_for_byte_the_transcoders_encoding(event: DomainEvent) -> None:
    """The command path serialises events straight to JSON (pydantic's serializer, no dict);
    the stored bytes are what the library-style path (dict, then the transcoder) makes."""
    topic, state = mapper.encode(event)
    state_dict = event.model_dump(mode="json", exclude={"originator_id", "originator_version"})
    if type(event).class_version > 1:
        state_dict["class_version"] = type(event).class_version
    assert topic == f"scripts_es.domain.events:{type(event).__name__}"
    assert state == orjson.dumps(state_dict)


def through_snapshot(aggregate: Any) -> Any:
    loaded = mapper.from_snapshot(mapper.to_snapshot(aggregate, aggregate.version))
    assert type(loaded) is type(aggregate) and loaded.pending_events == ()
    return loaded


@given(script=s.evolved_scripts(), cut=st.integers(1, 20))
def test_a_script_snapshot_round_trips_and_folding_on_from_it_equals_the_full_fold(
    script: Script, cut: int
) -> None:
    events = script.pending_events
    assert through_snapshot(script) == script.without_pending() == fold_script(events)
    cut = min(cut, len(events))
    resumed = fold_script(events[cut:], through_snapshot(fold_script(events[:cut])))
    assert resumed == fold_script(events)


@given(execution=s.executions(), cut=st.integers(1, 3))
def test_an_execution_snapshot_round_trips_and_folding_on_from_it_equals_the_full_fold(
    execution: Execution, cut: int
) -> None:
    events = execution.pending_events
    assert through_snapshot(execution) == execution.without_pending() == fold_execution(events)
    cut = min(cut, len(events))
    resumed = fold_execution(events[cut:], through_snapshot(fold_execution(events[:cut])))
    assert resumed == fold_execution(events)


@pytest.mark.parametrize(
    ("aggregates", "fold"),
    [(s.evolved_scripts(), fold_script), (s.executions(), fold_execution)],
    ids=["script", "execution"],
)
@given(data=st.data())
def test_a_stream_with_a_repeated_skipped_or_swapped_event_does_not_fold(
    aggregates: Any, fold: Any, data: st.DataObject
) -> None:
    events = list(data.draw(aggregates).pending_events)
    assume(len(events) >= 2)
    i = data.draw(st.integers(0, len(events) - 2))
    repeated = events[: i + 1] + events[i:]
    skipped = events[:i] + events[i + 1 :]
    swapped = [*events[:i], events[i + 1], events[i], *events[i + 2 :]]
    for broken in (repeated, skipped, swapped):
        with pytest.raises(InvalidTransition):
            fold(broken)


# -- payloads as older code stored them ----------------------------------------------------

SCRIPT = UUID("6f1c1a52-0000-4000-8000-000000000001")
RUN = UUID("6f1c1a52-0000-4000-8000-000000000002")
TENANT = "6f1c1a52-0000-4000-8000-0000000000aa"
USER = "6f1c1a52-0000-4000-8000-0000000000bb"
AT = datetime(2021, 3, 4, 5, 6, 7, 8, tzinfo=UTC)


def stored(id: UUID, version: int, name: str, payload: str) -> StoredEvent:
    return StoredEvent(id, version, f"scripts_es.domain.events:{name}", payload.encode())


def created_v1(type_: str, metadata: str) -> StoredEvent:
    return stored(
        SCRIPT,
        1,
        "ScriptCreated",
        f'{{"tenant_id":"{TENANT}","user_id":"{USER}","timestamp":"2021-03-04T05:06:07.000008Z",'
        f'"name":"Nightly report","description":"","content":"print(1)","type":"{type_}",'
        f'"metadata":{metadata}}}',
    )


def test_a_version_1_script_created_event_loads_with_no_tags_and_typed_metadata() -> None:
    cron = created_v1("cron", '{"cron_expression":"0 3 * * *","timezone":"Europe/Berlin"}')
    http = created_v1("http", '{"path":"/hooks/report","method":"post"}')
    one_off = created_v1("one_off", "{}")
    event = mapper.to_domain_event(cron)
    assert isinstance(event, ScriptCreated) and event.tags == ()
    assert event.metadata == CronMetadata(cron_expression="0 3 * * *", timezone="Europe/Berlin")
    assert mapper.to_domain_event(http).metadata == HTTPMetadata(
        path="/hooks/report", method="POST"
    )
    assert mapper.to_domain_event(one_off).metadata == OneOffMetadata()
    assert (event.originator_id, event.user_id, event.timestamp) == (SCRIPT, UUID(USER), AT)


def test_a_stream_starting_with_a_version_1_event_folds_into_the_right_script() -> None:
    old = mapper.to_domain_event(created_v1("embedded", "{}"))
    later = fold_script([old]).update_content("print(2)", UUID(USER), at=AT + timedelta(days=1))
    stream = [
        old,
        *(mapper.to_domain_event(mapper.to_stored_event(e)) for e in later.pending_events),
    ]
    script = fold_script(stream)
    assert (script.id, script.version, script.content, script.tags) == (SCRIPT, 2, "print(2)", ())
    assert (script.name, script.type, script.created_at) == ("Nightly report", "embedded", AT)


def completed_v1(duration_ms: int) -> StoredEvent:
    return stored(
        RUN,
        2,
        "ExecutionCompleted",
        f'{{"tenant_id":"{TENANT}","user_id":null,"timestamp":"2021-03-04T05:07:08.5Z",'
        f'"status":"failed","result":{{"output":"","error":"boom","logs":[]}},'
        f'"duration_ms":{duration_ms}}}',
    )


def test_a_version_1_execution_completed_event_loads_its_milliseconds_as_a_duration() -> None:
    started = stored(
        RUN,
        1,
        "ExecutionStarted",
        f'{{"tenant_id":"{TENANT}","user_id":null,"timestamp":"2021-03-04T05:06:07.000008Z",'
        f'"script_id":"{SCRIPT}","script_version":3,"trigger":{{"type":"cron"}},"input":{{}}}}',
    )
    events = [mapper.to_domain_event(e) for e in (started, completed_v1(61_500))]
    assert events[1].duration == timedelta(seconds=61.5)
    assert (events[0].worker, events[0].lease_expires_at) == (None, None)  # 0.1.0: no claims
    run = fold_execution(events)
    assert (run.status, run.duration, run.result.error) == (
        "failed",
        timedelta(seconds=61.5),
        "boom",
    )
    assert (run.script_id, run.script_version, run.started_at) == (SCRIPT, 3, AT)
    assert (run.queued_at, run.worker, run.lease_expires_at) == (AT, None, None)


@given(duration_ms=st.integers(0, 10**15))
def test_any_whole_millisecond_duration_of_version_1_upcasts_exactly(duration_ms: int) -> None:
    event = mapper.to_domain_event(completed_v1(duration_ms))
    assert event.duration == timedelta(milliseconds=duration_ms)
    assert mapper.to_domain_event(mapper.to_stored_event(event)) == event

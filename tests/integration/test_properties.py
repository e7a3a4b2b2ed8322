"""Property: any valid Script and Execution round-trips through PostgreSQL unchanged.

Random field values (the domain strategies of tests/unit/strategies.py) are stored through the
repositories and read back through the event store (find_by_id, get_version) and through the
read model (find, find_for_script): every path returns exactly what was stored.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scripts_es import ScriptsModule
from scripts_es.domain import Execution, Script, ScriptType
from scripts_es.queries import ScriptFindParams
from tests.support.fixtures import shared_dsn, shared_module  # noqa: F401 (fixtures)
from tests.support.strategies import (
    TERMINAL,
    contents,
    descriptions,
    json_objects,
    metadata_for,
    moments,
    names,
    results,
    tag_lists,
    triggers,
)


@st.composite
def script_fields(draw: st.DrawFn) -> dict[str, object]:
    type_ = draw(st.sampled_from(list(ScriptType)))
    return {
        "name": draw(names),
        "content": draw(contents),
        "type": type_,
        "metadata": draw(metadata_for(type_)),
        "description": draw(descriptions),
        "tags": draw(tag_lists),
        "at": draw(moments),
    }


@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    fields=script_fields(),
    trigger=triggers,
    payload=json_objects,
    result=results,
    terminal=st.sampled_from(TERMINAL),
    queued=st.booleans(),
    took=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=3)),
)
def test_any_valid_script_and_execution_round_trip_through_every_read_path(
    module: ScriptsModule,
    fields: dict[str, object],
    trigger: object,
    payload: dict[str, object],
    result: object,
    terminal: object,
    queued: bool,
    took: timedelta,
) -> None:
    t = module.tenant(uuid4(), uuid4())
    script = t.scripts.create(
        Script.create(tenant_id=t.session.tenant_id, created_by=t.session.user_id, **fields)  # type: ignore[arg-type]
    )
    assert t.scripts.find_by_id(script.id) == script
    assert t.scripts.get_version(script.id, 1) == script
    assert t.scripts.find(ScriptFindParams()) == [script]

    opener = Execution.enqueue if queued else Execution.start
    started_at = script.created_at + timedelta(seconds=1)
    execution = t.executions.create(
        opener(script=script, trigger=trigger, input=payload, at=started_at)  # type: ignore[arg-type]
    )
    assert t.executions.find_by_id(execution.id) == execution
    assert t.executions.find_for_script(script.id) == [execution]

    done = t.executions.update(
        execution.complete(terminal, result, at=started_at + took)  # type: ignore[arg-type]
    )
    assert done.duration == (timedelta(0) if queued else took)
    assert t.executions.find_by_id(execution.id) == done
    assert t.executions.find_for_script(script.id) == [done]

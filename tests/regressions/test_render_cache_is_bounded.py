"""Issue 9, cause 7: the rendered-SQL cache was keyed by the caller's `sort`, so every distinct
sort a caller sent stayed in memory (3,000 sorts added 61 MB). It is keyed by shape now (the
sort normalised to what it orders by) and bounded (least recently used out first).
"""

from __future__ import annotations

import itertools
import math
from typing import Any
from uuid import uuid4

import pytest

from projections import finders
from scripts_es import TenantSession
from scripts_es import commands as c
from scripts_es.queries import ExecutionFindParams, ScriptFindParams

DIRECTIONS = ("asc", "desc")
SCRIPT_FIELDS = ("name", "created_at", "updated_at", "version")
SCRIPT_KEYS = [(f, d) for f in SCRIPT_FIELDS for d in DIRECTIONS]
EXECUTION_KEYS = [(f, d) for f in ("started_at", "completed_at", "duration") for d in DIRECTIONS]
BOUND = 1_024  # whatever the cache's own bound, 3,000 sorts must not make 3,000 entries


def distinct_sorts(keys: list[tuple[str, str]], how_many: int) -> list[tuple[tuple[str, str], ...]]:
    sorts = itertools.chain.from_iterable(itertools.product(keys, repeat=n) for n in range(1, 9))
    return list(itertools.islice(sorts, how_many))


def render_cache() -> Any:
    """The module's render cache (named `_RENDERED`, a plain dict, before the fix)."""
    cache = getattr(finders, "RENDERED", None)
    return finders._RENDERED if cache is None else cache  # type: ignore[attr-defined]


@pytest.fixture
def empty_cache() -> None:
    render_cache().clear()


def test_three_thousand_distinct_sorts_leave_the_render_cache_bounded(empty_cache: None) -> None:
    tenant_id = uuid4()
    sorts = distinct_sorts(SCRIPT_KEYS, 3_000)
    assert len(set(sorts)) == 3_000
    for sort in sorts:
        for search in (None, "x"):  # two filter shapes
            p = ScriptFindParams(sort=sort, search=search)
            finders.find_scripts_sql(tenant_id, p)
            finders.count_scripts_sql(tenant_id, p)
    for sort in distinct_sorts(EXECUTION_KEYS, 3_000):
        finders.find_executions_sql(tenant_id, uuid4(), ExecutionFindParams(sort=sort))
    assert len(render_cache()) <= BOUND
    assert len(finders.RENDERED) <= finders.RENDERED.maxsize


def test_distinct_sorts_come_down_to_a_few_shapes(empty_cache: None) -> None:
    shapes = {finders.sort_shape(sort) for sort in distinct_sorts(SCRIPT_KEYS, 3_000)}
    # Some of the 4 fields in first-mention order, each asc or desc, and a tie direction.
    n = len(SCRIPT_FIELDS)
    assert len(shapes) <= 2 * sum(math.perm(n, k) * 2**k for k in range(n + 1))
    tenant_id = uuid4()
    for sort in distinct_sorts(SCRIPT_KEYS, 3_000):
        finders.find_scripts_sql(tenant_id, ScriptFindParams(sort=sort, search="x"))
    assert len(finders.RENDERED) <= min(len(shapes), finders.RENDERED.maxsize)


def test_a_later_mention_of_a_field_changes_nothing_but_the_tie_break() -> None:
    assert finders.sort_shape((("name", "asc"), ("name", "desc"))) == (
        (("name", "asc"),),
        "desc",
    )
    assert finders.sort_shape(()) == ((), "asc")
    text, _ = finders.find_scripts_sql(
        uuid4(), ScriptFindParams(sort=(("name", "asc"), ("version", "asc"), ("name", "desc")))
    )
    assert text.endswith('ORDER BY "name" ASC, "version" ASC, id DESC LIMIT %s OFFSET %s')


def test_a_shape_seen_before_is_not_rendered_again(empty_cache: None) -> None:
    p = ScriptFindParams(sort=(("name", "asc"),), type="cron")
    first, _ = finders.find_scripts_sql(uuid4(), p)
    again, _ = finders.find_scripts_sql(uuid4(), ScriptFindParams(sort=p.sort, type="http"))
    assert again is first


def test_finds_with_redundant_sorts_order_as_their_shape_says(tenant: TenantSession) -> None:
    for name in ("b", "a", "c"):
        tenant.handle(c.CreateScript(name=name, content="x", type="one_off"))
    plain = tenant.scripts.find(ScriptFindParams(sort=(("name", "asc"),)))
    padded = tenant.scripts.find(
        ScriptFindParams(sort=(("name", "asc"), ("name", "desc"), ("name", "asc")))
    )
    assert [s.name for s in padded] == [s.name for s in plain] == ["a", "b", "c"]

"""Every filter and sort of find/count/find_for_script is served by an index, as the app role.

The tables are seeded in bulk with 100k scripts and 100k executions across 200 tenants. Half of
each table belongs to one big tenant (and one big script): for it an unindexed filter or sort is
a Seq Scan or a Sort of tens of thousands of rows, so a missing index shows in its plan; the
other tenants are ordinary (~250 rows). Filter values are selective (~1%) so an index is the
right plan. Plans are taken with EXPLAIN as scripts_es_app, under row-level security, exactly
as find/count run.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from hashlib import md5
from typing import Any

import psycopg
import pytest
from psycopg import sql

from projections.finders import find_executions_query, find_scripts_query, script_filters
from projections.tables import LIVE
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from tests.support.pg import throwaway_db

BIG = uuid.UUID(int=1)
BIG_SCRIPT = uuid.UUID(int=2)
START = datetime(2024, 1, 1, tzinfo=UTC)
ROWS = 100_000


def md5_uuid(text: str) -> uuid.UUID:
    return uuid.UUID(md5(text.encode()).hexdigest())


SMALL = md5_uuid("tenant7")  # one of the ordinary tenants
SMALL_SCRIPT = md5_uuid("xs7")  # one of its scripts (with ~200 executions)
USER = md5_uuid("user7")  # creator of 1% of the scripts

SEED_SCRIPTS = """
INSERT INTO scripts_es.scripts (tenant_id, id, name, description, content, type, is_enabled,
    metadata, tags, version, created_at, updated_at, created_by, updated_by)
SELECT CASE WHEN g <= %(half)s THEN %(big)s::uuid ELSE md5('tenant' || g %% 199)::uuid END,
       md5('script' || g)::uuid, 'script ' || md5(g::text), 'about ' || g, 'print(1)',
       coalesce((ARRAY['cron', 'http', 'embedded'])[g %% 100 + 1], 'one_off'),
       g %% 50 <> 0, '{}'::jsonb, ARRAY['common', 'tag' || g %% 200], 1 + g %% 40,
       %(start)s + g * interval '1 minute',
       %(start)s + (g * 7919 %% %(rows)s) * interval '1 minute',
       md5('user' || g %% 100)::uuid, md5('user' || g %% 100)::uuid
FROM generate_series(1, %(rows)s) g
"""
# The projector keeps one script_tags row per (script, tag).
SEED_TAGS = """
INSERT INTO scripts_es.script_tags (tenant_id, tag, script_id)
SELECT tenant_id, unnest(tags), id FROM scripts_es.scripts
"""
# Executions of the big script, then ~200 each for 250 scripts of the ordinary tenants.
SEED_EXECUTIONS = """
INSERT INTO scripts_es.executions (tenant_id, id, script_id, script_version, status, result,
    started_at, completed_at, duration, trigger_type, triggered_by, input, version)
SELECT tenant_id, id, script_id, 1, status, NULL, started_at,
       CASE WHEN status IN ('pending', 'running') THEN NULL ELSE started_at + took END,
       CASE WHEN status IN ('pending', 'running') THEN interval '0' ELSE took END,
       trigger_type, NULL, '{}', 2
FROM (
    SELECT CASE WHEN g <= %(half)s THEN %(big)s::uuid
                ELSE md5('tenant' || g %% 250 %% 199)::uuid END AS tenant_id,
           md5('execution' || g)::uuid AS id,
           CASE WHEN g <= %(half)s THEN %(big_script)s::uuid
                ELSE md5('xs' || g %% 250)::uuid END AS script_id,
           coalesce((ARRAY['timeout', 'pending', 'running', 'failed'])[g %% 100 + 1],
                    'completed') AS status,
           CASE WHEN g %% 100 = 1 THEN NULL ELSE %(start)s + g * interval '1 second' END
               AS started_at,
           (g * 7 %% 600) * interval '1 second' AS took,
           coalesce((ARRAY['manual', 'cron'])[g %% 100 - 4], 'api') AS trigger_type
    FROM generate_series(1, %(rows)s) g
) s
"""


@dataclass(frozen=True)
class Case:
    """One query shape: `column` (a regex) must appear in an index condition, `ordered` means
    the index must deliver the ORDER BY (no Sort node)."""

    label: str
    params: dict[str, Any] = field(default_factory=dict)
    column: str | None = None
    ordered: bool = False
    count: bool = False

    def __str__(self) -> str:
        return f"{self.label}{' (count)' if self.count else ''}"


def script_query(tenant: uuid.UUID, case: Case) -> tuple[sql.Composable, list[Any]]:
    p = ScriptFindParams(**case.params)
    if case.count:  # the same shape as finders.count_scripts
        where, params = script_filters(tenant, p)
        return sql.SQL("SELECT count(*) FROM {} WHERE {}").format(
            LIVE.ids()["scripts"], where
        ), params
    return find_scripts_query(tenant, p)


def execution_query(tenant: uuid.UUID, script: uuid.UUID, case: Case) -> Any:
    return find_executions_query(tenant, script, ExecutionFindParams(**case.params))


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def plan_of(conn: psycopg.Connection[Any], tenant: uuid.UUID, query: Any) -> dict[str, Any]:
    """The plan of `query` as find/count run it: app role, tenant set, inside the caller's
    transaction."""
    statement, params = query
    conn.execute("SET LOCAL ROLE scripts_es_app")
    conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant),))
    row = conn.execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + statement, params).fetchone()
    assert row is not None
    plan: dict[str, Any] = row[0][0]["Plan"]
    return plan


def problems(plan: dict[str, Any], table: str, case: Case) -> list[str]:
    found = []
    all_nodes = list(nodes(plan))
    for node in all_nodes:
        if node["Node Type"] == "Seq Scan" and node.get("Relation Name") == table:
            found.append(f"Seq Scan on {table}")
    if case.column is not None:
        conds = " ".join(
            n.get(key, "") for n in all_nodes for key in ("Index Cond", "Recheck Cond")
        )
        if not re.search(rf"\b{case.column}\b", conds):
            found.append(f"{case.column} is not in any index condition")
    if case.ordered and any(n["Node Type"] in ("Sort", "Incremental Sort") for n in all_nodes):
        found.append("sorted rows instead of reading them in index order")
    return found


@pytest.fixture(scope="module")
def seeded(pg_server: str, pg_template: str) -> Iterator[psycopg.Connection[Any]]:
    """A database with the big tables, and a superuser connection to it (bypasses RLS)."""
    with throwaway_db(pg_server, pg_template) as dsn, psycopg.connect(dsn) as conn:
        values = {
            "big": BIG,
            "big_script": BIG_SCRIPT,
            "half": ROWS // 2,
            "rows": ROWS,
            "start": START,
        }
        conn.execute(SEED_SCRIPTS, values)
        conn.execute(SEED_TAGS)
        conn.execute(SEED_EXECUTIONS, values)
        conn.commit()
        conn.autocommit = True  # each check below is its own transaction
        conn.execute(
            "VACUUM ANALYZE scripts_es.scripts, scripts_es.script_tags, scripts_es.executions"
        )
        yield conn


def test_the_seed_is_big_spread_over_200_tenants_and_shaped_as_the_cases_assume(
    seeded: psycopg.Connection[Any],
) -> None:
    count = "SELECT count(*), count(DISTINCT tenant_id) FROM scripts_es.{}"
    assert seeded.execute(count.format("scripts")).fetchone() == (ROWS, 200)
    assert seeded.execute(count.format("executions")).fetchone()[0] == ROWS  # type: ignore[index]
    small = seeded.execute(
        "SELECT count(*) FROM scripts_es.executions WHERE tenant_id = %s AND script_id = %s",
        (SMALL, SMALL_SCRIPT),
    ).fetchone()
    assert small is not None and 100 < small[0] < 1000
    # Every find/count above must actually return rows for the big tenant.
    for case in SCRIPT_CASES:
        query, params = script_query(BIG, case)
        with seeded.transaction():
            seeded.execute("SET LOCAL ROLE scripts_es_app")
            seeded.execute("SELECT set_config('app.tenant_id', %s, true)", (str(BIG),))
            rows = seeded.execute(query, params).fetchall()
            assert rows and (not case.count or rows[0][0] > 0), case


FILTERS = [
    Case("type", {"type": "cron"}, "type", ordered=True),
    Case("enabled", {"enabled": False}, "is_enabled", ordered=True),
    Case("created_by", {"created_by": USER}, "created_by", ordered=True),
    Case("updated_after", {"updated_after": START + timedelta(minutes=99_000)}, "updated_at",
         ordered=True),
    Case("updated_before", {"updated_before": START + timedelta(minutes=1_000)}, "updated_at",
         ordered=True),
]  # fmt: skip
TAG_FILTERS = [
    # Tag filters are answered from script_tags (its `tag` column).
    Case("tags_any", {"tags_any": ["tag7"]}, "tags?"),
    Case("tags_all", {"tags_all": ["tag7"]}, "tags?"),
]
SORTS = [
    Case(f"sort {f} {d}", {"sort": [(f, d)]}, ordered=True)
    for f in ("name", "created_at", "updated_at", "version")
    for d in ("asc", "desc")
]
SCRIPT_CASES = [
    Case("default", ordered=True),
    *FILTERS,
    *[Case(c.label, c.params, c.column, count=True) for c in FILTERS],
    *TAG_FILTERS,
    *[Case(c.label, c.params, c.column, count=True) for c in TAG_FILTERS],
    *SORTS,
]


def big_tenant_cases() -> list[Any]:
    out = []
    for case in SCRIPT_CASES:
        out.append(pytest.param(case, id=str(case)))
    return out


@pytest.mark.parametrize("case", big_tenant_cases())
def test_a_big_tenants_script_filter_or_sort_is_served_by_an_index(
    seeded: psycopg.Connection[Any], case: Case
) -> None:
    with seeded.transaction():
        plan = plan_of(seeded, BIG, script_query(BIG, case))
    assert problems(plan, "scripts", case) == [], plan


SEARCH = Case("search", {"search": "ab1"})


@pytest.mark.parametrize(
    "case",
    [pytest.param(Case(c.label, c.params, count=c.count), id=str(c)) for c in SCRIPT_CASES]
    + [
        pytest.param(SEARCH, id="search"),
        pytest.param(Case("search", SEARCH.params, count=True), id="search (count)"),
    ],
)
def test_an_ordinary_tenants_find_and_count_never_scan_the_whole_scripts_table(
    seeded: psycopg.Connection[Any], case: Case
) -> None:
    with seeded.transaction():
        plan = plan_of(seeded, SMALL, script_query(SMALL, case))
    assert problems(plan, "scripts", case) == [], plan


EXECUTION_CASES = [
    Case("default", ordered=True),
    Case("status timeout", {"status": "timeout"}, "status", ordered=True),
    Case("status pending", {"status": "pending"}, "status", ordered=True),
    Case("trigger manual", {"trigger_type": "manual"}, "trigger_type", ordered=True),
    Case("started_after", {"started_after": START + timedelta(seconds=49_500)}, "started_at",
         ordered=True),
    Case("started_before", {"started_before": START + timedelta(seconds=500)}, "started_at",
         ordered=True),
    *[
        Case(f"sort {f} {d}", {"sort": [(f, d)]}, ordered=True)
        for f in ("started_at", "completed_at", "duration")
        for d in ("asc", "desc")
    ],
]  # fmt: skip


@pytest.mark.parametrize("case", EXECUTION_CASES, ids=str)
def test_a_big_scripts_execution_filter_or_sort_is_served_by_an_index(
    seeded: psycopg.Connection[Any], case: Case
) -> None:
    with seeded.transaction():
        plan = plan_of(seeded, BIG, execution_query(BIG, BIG_SCRIPT, case))
    assert problems(plan, "executions", case) == [], plan


@pytest.mark.parametrize("case", EXECUTION_CASES, ids=str)
def test_an_ordinary_scripts_executions_never_scan_the_whole_table(
    seeded: psycopg.Connection[Any], case: Case
) -> None:
    only_no_seq_scan = Case(case.label, case.params)
    with seeded.transaction():
        plan = plan_of(seeded, SMALL, execution_query(SMALL, SMALL_SCRIPT, only_no_seq_scan))
    assert problems(plan, "executions", only_no_seq_scan) == [], plan


def case_named(cases: list[Case], label: str, *, count: bool = False) -> Case:
    return next(c for c in cases if c.label == label and c.count == count)


# Each index, and a query that needs it: dropping the index must show up as a problem.
NEEDED = [
    ("scripts_type_idx", "scripts", "type"),
    ("scripts_enabled_idx", "scripts", "enabled"),
    ("scripts_created_by_idx", "scripts", "created_by"),
    ("scripts_updated_at_idx", "scripts", "updated_after"),
    ("scripts_updated_at_idx", "scripts", "sort updated_at desc"),
    ("scripts_name_idx", "scripts", "sort name asc"),
    ("scripts_created_at_idx", "scripts", "sort created_at desc"),
    ("scripts_version_idx", "scripts", "sort version asc"),
    ("executions_started_idx", "executions", "started_after"),
    ("executions_started_idx", "executions", "default"),
    ("executions_completed_idx", "executions", "sort completed_at asc"),
    ("executions_duration_idx", "executions", "sort duration desc"),
    ("executions_status_idx", "executions", "status timeout"),
    ("executions_trigger_idx", "executions", "trigger manual"),
]


@pytest.mark.parametrize(("index", "table", "label"), NEEDED, ids=lambda v: str(v))
def test_dropping_an_index_makes_the_plan_check_fail(
    seeded: psycopg.Connection[Any], index: str, table: str, label: str
) -> None:
    with seeded.transaction(force_rollback=True):
        seeded.execute(sql.SQL("DROP INDEX scripts_es.{}").format(sql.Identifier(index)))
        if table == "scripts":
            found = [
                problems(plan_of(seeded, BIG, script_query(BIG, case)), table, case)
                for case in SCRIPT_CASES
                if case.label == label
            ]
        else:
            case = case_named(EXECUTION_CASES, label)
            found = [problems(plan_of(seeded, BIG, execution_query(BIG, BIG_SCRIPT, case)),
                              table, case)]  # fmt: skip
    assert any(found), f"the plan check did not notice {index} missing"
    # ... and the index is back (the DROP was rolled back).
    exists = seeded.execute("SELECT to_regclass(%s)", (f"scripts_es.{index}",)).fetchone()
    assert exists is not None and exists[0] is not None

"""Search matches literally: LIKE wildcards, escapes, quotes and SQL in a search string are text."""

from __future__ import annotations

import uuid

import psycopg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.errors import InvalidInput
from scripts_es.queries import ExecutionFindParams, ScriptFindParams

INJECTION = "'; DROP TABLE scripts; --"
# (name, description): every hostile character, in names and in descriptions.
SCRIPTS = [
    ("100% sure", "plain"),
    ("1000 sure", "percent wildcard must not match this"),
    ("snake_case", ""),
    ("snakeXcase", "underscore wildcard must not match this"),
    ("back\\slash", "one backslash"),
    ("back\\\\slash", "two backslashes"),
    ("backslash", "no backslash"),
    ("it's quoted", 'say "hi"'),
    ("plain", "O'Reilly"),
    (INJECTION, "the classic"),
    ("harmless", "drop table scripts"),
    ("MiXeD CaSe", "UPPER lower"),
    ("%_\\", "all three"),
    ("trailing\\", "ends in an escape character"),
]
SEARCHES = [
    "%",
    "_",
    "\\",
    "\\\\",
    "%_",
    "%_\\",
    "100%",
    "0%",
    "e_c",
    "'",
    "'s",
    '"',
    "''",
    INJECTION,
    "drop table",
    "DROP TABLE SCRIPTS",
    "; --",
    "mixed case",
    "MIXED",
    "upper LOWER",
    "\\s",
    "g\\",
    "%%",
    "__",
    "",
    " ",
    "no such text",
]
ALPHABET = "aAsS %_\\'\";-"


@pytest.fixture
def seeded(module: ScriptsModule, tenant: TenantSession) -> list[tuple[uuid.UUID, str, str]]:
    rows = []
    for name, description in SCRIPTS:
        script = tenant.handle(
            c.CreateScript(name=name, description=description, content="x", type="one_off")
        )
        rows.append((script.id, script.name, script.description))
    # Another tenant's scripts with the same texts must never show up.
    other = module.tenant(uuid.uuid4(), uuid.uuid4())
    for name, description in SCRIPTS[:5]:
        other.handle(c.CreateScript(name=name, description=description, content="y", type="cron",
                                    metadata={"cron_expression": "* * * * *"}))  # fmt: skip
    return rows


def literal_matches(rows: list[tuple[uuid.UUID, str, str]], needle: str) -> list[uuid.UUID]:
    wanted = needle.lower()
    return sorted(i for i, name, desc in rows if wanted in name.lower() or wanted in desc.lower())


def assert_tables_intact(dsn: str) -> None:
    with psycopg.connect(dsn) as conn:
        for table in ("scripts", "script_versions", "executions", "events"):
            found = conn.execute("SELECT to_regclass(%s)", (f"scripts_es.{table}",)).fetchone()
            assert found is not None and found[0] is not None, table


@pytest.mark.parametrize("needle", SEARCHES, ids=repr)
def test_a_hostile_search_finds_exactly_the_scripts_containing_it_literally(
    dsn: str, tenant: TenantSession, seeded: list[tuple[uuid.UUID, str, str]], needle: str
) -> None:
    params = ScriptFindParams(search=needle, sort=(("name", "asc"),), limit=1000)
    found = tenant.scripts.find(params)
    assert sorted(s.id for s in found) == literal_matches(seeded, needle)
    assert tenant.scripts.count(params) == len(found)
    assert_tables_intact(dsn)


def test_the_wildcards_match_only_themselves(
    tenant: TenantSession, seeded: list[tuple[uuid.UUID, str, str]]
) -> None:
    def names(needle: str) -> set[str]:
        return {s.name for s in tenant.scripts.find(ScriptFindParams(search=needle, limit=1000))}

    assert names("100%") == {"100% sure"}
    assert names("e_c") == {"snake_case"}
    assert names("k\\s") == {"back\\slash"}
    assert names("k\\\\s") == {"back\\\\slash"}
    assert names("%_\\") == {"%_\\"}


def test_random_searches_over_hostile_text_match_literal_substrings(
    module: ScriptsModule, tenant: TenantSession, seeded: list[tuple[uuid.UUID, str, str]]
) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(needle=st.text(ALPHABET, max_size=4))
    def check(needle: str) -> None:
        params = ScriptFindParams(search=needle, limit=1000)
        assert sorted(s.id for s in tenant.scripts.find(params)) == literal_matches(seeded, needle)
        assert tenant.scripts.count(params) == len(literal_matches(seeded, needle))

    check()


def test_a_search_with_a_nul_character_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        ScriptFindParams(search="a\x00b")


@pytest.mark.parametrize("limit", [0, -1, 1001])
def test_a_limit_outside_1_to_1000_is_invalid_input(limit: int) -> None:
    with pytest.raises(InvalidInput):
        ScriptFindParams(limit=limit)
    with pytest.raises(InvalidInput):
        ExecutionFindParams(limit=limit)


@pytest.mark.parametrize("limit", [1, 1000])
def test_limits_at_the_bounds_are_accepted(limit: int) -> None:
    assert ScriptFindParams(limit=limit).limit == ExecutionFindParams(limit=limit).limit == limit

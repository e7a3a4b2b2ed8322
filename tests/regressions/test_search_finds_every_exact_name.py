"""Issue 9, cause 5: a search for a script's exact name must find it, whatever its script.

The pattern was lower-cased by Python and the column by PostgreSQL, and the two disagree
("İ".lower() is "i̇" in Python and "i" in the database; Python folds a final sigma, the database
does not). Case is now folded once, in SQL, by the `lower()` the trigram indexes use.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scripts_es import TenantSession
from scripts_es import commands as c
from scripts_es.queries import ScriptFindParams
from tests.support.strategies import printable_chars

# Any text validation allows in a name (no NUL, controls or surrogates), with some of the letters
# whose case folding differs between Python and PostgreSQL in the middle of most of them.
TRICKY = "İıΣσςΟΔẞßǅǄΩΩKKﬃΐ"
names = st.builds(
    lambda head, tricky, tail: head + tricky + tail,
    st.text(printable_chars, max_size=15),
    st.text(st.sampled_from(TRICKY), max_size=3),
    st.text(printable_chars, max_size=15),
).filter(lambda s: 1 <= len(s.strip()) <= 255)

EXACT_NAMES = ["İ", "İstanbul", "ΟΔΟΣ", "ὈΔΥΣΣΕΎΣ", "ǅemal", "STRASSE ẞ", "Ωmega Ω", "KELVIN K"]


def _found(tenant: TenantSession, search: str) -> set[object]:
    params = ScriptFindParams(search=search, limit=1000)
    found = {s.id for s in tenant.scripts.find(params)}
    assert tenant.scripts.count(params) == len(found)
    return found


@pytest.mark.parametrize("name", EXACT_NAMES)
def test_a_search_for_the_exact_name_finds_the_script(tenant: TenantSession, name: str) -> None:
    script = tenant.handle(c.CreateScript(name=name, content="x", type="one_off"))
    assert tenant.scripts.count(ScriptFindParams(search=name)) == 1
    assert _found(tenant, name) == {script.id}


def test_the_search_stays_case_insensitive(tenant: TenantSession) -> None:
    city = tenant.handle(c.CreateScript(name="İstanbul", content="x", type="one_off"))
    road = tenant.handle(c.CreateScript(name="ΟΔΟΣ", content="x", type="one_off"))
    assert _found(tenant, "istanbul") == _found(tenant, "İSTANBUL") == {city.id}
    assert _found(tenant, "Οδοσ") == {road.id}


def test_a_search_for_the_exact_description_finds_the_script(tenant: TenantSession) -> None:
    script = tenant.handle(
        c.CreateScript(name="n", description="İstanbul ΟΔΟΣ", content="x", type="one_off")
    )
    assert _found(tenant, "İstanbul ΟΔΟΣ") == {script.id}


def test_any_name_and_any_substring_of_it_find_the_script(tenant: TenantSession) -> None:
    @settings(max_examples=60, deadline=None, database=None)
    @given(name=names, data=st.data())
    def check(name: str, data: st.DataObject) -> None:
        script = tenant.handle(c.CreateScript(name=name, content="x", type="one_off"))
        stored = script.name  # stripped on the way in
        assert script.id in _found(tenant, stored)
        start = data.draw(st.integers(0, len(stored) - 1), label="start")
        end = data.draw(st.integers(start + 1, len(stored)), label="end")
        assert script.id in _found(tenant, stored[start:end])

    check()

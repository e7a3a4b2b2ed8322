"""Every named SQL block the code asks for exists in its `.sql` file, and no name is used twice."""

from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path
from types import ModuleType

import pytest

import projections
import scripts_es
from scripts_es.store import sql as sql_loader
from scripts_es.store.sql import Queries


def modules() -> list[ModuleType]:
    found = []
    for package in (scripts_es, projections):
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            found.append(importlib.import_module(info.name))
    return found


def asked_for(module: ModuleType) -> list[tuple[str, str, int]]:
    """(queries variable, block name, line) for every `NAME["literal"]` on a Queries object."""
    source = Path(module.__file__ or "").read_text(encoding="utf-8")
    asks = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
            and isinstance(getattr(module, node.value.id, None), Queries)
        ):
            asks.append((node.value.id, node.slice.value, node.lineno))
    return asks


def test_every_named_query_the_code_uses_exists() -> None:
    asks = [(module, ask) for module in modules() for ask in asked_for(module)]
    assert len(asks) > 30, "the scan no longer finds the code's queries"
    missing = [
        f"{module.__name__}:{line} {name}[{block!r}]"
        for module, (name, block, line) in asks
        if block not in getattr(module, name)
    ]
    assert missing == []


def test_a_block_name_used_twice_in_a_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "twice.sql").write_text(
        "-- name: same\nSELECT 1;\n\n-- name: same\nSELECT 2;\n", encoding="utf-8"
    )
    monkeypatch.setattr(sql_loader, "files", lambda package: tmp_path)
    sql_loader._blocks.cache_clear()
    try:
        with pytest.raises(ValueError, match="'same' is used twice"):
            sql_loader.load("anywhere", "twice.sql")
    finally:
        sql_loader._blocks.cache_clear()


def test_an_unknown_block_name_says_which_file_lacks_it() -> None:
    queries = sql_loader.load("scripts_es.store", "queries.sql")
    with pytest.raises(KeyError, match=r"scripts_es\.store/queries\.sql has no block named 'nope'"):
        queries["nope"]

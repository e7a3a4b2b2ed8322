"""Named SQL blocks loaded from `.sql` files beside the code that runs them.

A file holds blocks introduced by `-- name: <block>` lines; Python code never builds SQL from
values (they are always bound parameters), and identifiers go through psycopg.sql.Identifier.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any, TypeVar

from psycopg import sql

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
T = TypeVar("T")


class Queries(dict[str, T]):
    """The named blocks of one `.sql` file; an unknown name says which file lacks it."""

    def __init__(self, source: str, blocks: dict[str, T]) -> None:
        super().__init__(blocks)
        self.source = source

    def __missing__(self, name: str) -> T:
        raise KeyError(f"{self.source} has no block named {name!r}")


@cache
def _blocks(package: str, filename: str) -> dict[str, str]:
    text = files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    blocks: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        if name in blocks:
            raise ValueError(f"{package}/{filename}: the block name {name!r} is used twice")
        blocks[name] = body.strip().rstrip(";")
    return blocks


def load(package: str, filename: str) -> Queries[str]:
    """All named blocks of `filename` in `package`, as query text (psycopg caches its parsing).

    A name used twice in the file is refused (the later block would silently win)."""
    return Queries(f"{package}/{filename}", _blocks(package, filename))


def load_templates(package: str, filename: str) -> Queries[sql.SQL]:
    """Blocks with `{name}` placeholders for identifiers, to `.format()` and then `render`."""
    blocks = {name: sql.SQL(body) for name, body in _blocks(package, filename).items()}
    return Queries(f"{package}/{filename}", blocks)


def one(cursor: Any) -> Any:
    """The single row a query must return (aggregates, RETURNING)."""
    row = cursor.fetchone()
    if row is None:
        raise AssertionError("query returned no row")
    return row


def render(query: sql.Composable) -> str:
    """Composed SQL as text, once, so it is not re-rendered on every execution."""
    return query.as_string(None)


def schema_sql() -> str:
    """The complete schema (schema.sql at the repository root, shipped in the package)."""
    return files("scripts_es").joinpath("schema.sql").read_text(encoding="utf-8")

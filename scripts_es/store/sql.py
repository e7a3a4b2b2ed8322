"""Named SQL blocks loaded from `.sql` files beside the code that runs them.

A file holds blocks introduced by `-- name: <block>` lines; Python code never builds SQL from
values (they are always bound parameters), and identifiers go through psycopg.sql.Identifier.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files
from typing import Any

from psycopg import sql

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def _blocks(package: str, filename: str) -> dict[str, str]:
    text = files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    return {
        name: body.strip().rstrip(";") for name, body in zip(parts[1::2], parts[2::2], strict=True)
    }


def load(package: str, filename: str) -> dict[str, str]:
    """All named blocks of `filename` in `package`, as query text (psycopg caches its parsing)."""
    return _blocks(package, filename)


def load_templates(package: str, filename: str) -> dict[str, sql.SQL]:
    """Blocks with `{name}` placeholders for identifiers, to `.format()` and then `render`."""
    return {name: sql.SQL(body) for name, body in _blocks(package, filename).items()}


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

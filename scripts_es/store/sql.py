"""Named SQL blocks loaded from `.sql` files beside the code that runs them.

A file holds blocks introduced by `-- name: <block>` lines; Python code never builds SQL from
values (they are always bound parameters), and identifiers go through psycopg.sql.Identifier.
"""

from __future__ import annotations

import re
from functools import cache
from importlib.resources import files

from psycopg import sql

_HEADER = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)


@cache
def load(package: str, filename: str) -> dict[str, sql.SQL]:
    """All named blocks of `filename` in `package`, as composable SQL."""
    text = files(package).joinpath(filename).read_text(encoding="utf-8")
    parts = _HEADER.split(text)
    blocks: dict[str, sql.SQL] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        blocks[name] = sql.SQL(body.strip().rstrip(";"))  # type: ignore[arg-type]
    return blocks


def schema_sql() -> str:
    """The complete schema (schema.sql at the repository root, shipped in the package)."""
    return files("scripts_es").joinpath("schema.sql").read_text(encoding="utf-8")

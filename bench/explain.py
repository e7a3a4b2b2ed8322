"""Server-side evidence: EXPLAIN (ANALYZE, BUFFERS) of the statements the module really sends.

`capturing` records (query text, params) of every statement whose text matches, by wrapping
psycopg's Connection.execute in this process only; its `hook` runs just before the statement is
sent (a write is explained there, on the state it will really meet). `explain` runs a statement
under EXPLAIN ANALYZE as scripts_es_app with the tenant set, in a transaction rolled back.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql

Captured = list[tuple[str, Any]]


def _text(conn: psycopg.Connection[Any], query: Any) -> str:
    if isinstance(query, bytes):
        return query.decode()
    if isinstance(query, sql.Composable):
        return query.as_string(conn)
    return str(query)


@contextmanager
def capturing(
    matches: Callable[[str], bool], hook: Callable[[str, Any], None] | None = None
) -> Iterator[Captured]:
    """Record the statements whose text `matches` while the block runs (this process only)."""
    captured: Captured = []
    original = psycopg.Connection.execute
    busy: list[bool] = []  # the hook's own statements are not captured

    def execute(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
        if not busy:
            text = _text(self, query)
            if matches(text):
                captured.append((text, params))
                if hook is not None:
                    busy.append(True)
                    try:
                        hook(text, params)
                    finally:
                        busy.clear()
        return original(self, query, params, **kw)

    psycopg.Connection.execute = execute  # type: ignore[method-assign]
    try:
        yield captured
    finally:
        psycopg.Connection.execute = original  # type: ignore[method-assign]


def explain(
    admin_dsn: str,
    tenant_id: UUID | None,
    query: str,
    params: Any,
    *,
    warm: int = 0,
    generic: bool = False,
    role: str = "scripts_es_app",
) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) of `query` as `role` (the app role for `tenant_id`, or the
    maintenance role with no tenant); rolled back.

    `warm` runs a read that many times first, so the explained run meets warm caches.
    `generic` explains the generic plan of the prepared statement, which is what runs once
    psycopg has prepared a statement (5th execution) and the server has settled on it.
    """
    with psycopg.connect(admin_dsn) as conn:
        conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
        if tenant_id is not None:
            conn.execute("SELECT set_config('app.tenant_id', %s, true)", (str(tenant_id),))
        for _ in range(warm):
            conn.execute(query, params).fetchall()
        if generic:
            text, values = _numbered(query, params)
            conn.execute("SET LOCAL plan_cache_mode = force_generic_plan")
            conn.execute(sql.SQL("PREPARE bench_explained AS {}").format(sql.SQL(text)))
            run = sql.SQL("EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_explained ({})").format(
                sql.SQL(", ").join(map(sql.Literal, values))
            )
            rows = conn.execute(run).fetchall()
        else:
            rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
        conn.rollback()
    return "\n".join(row[0] for row in rows)


def _numbered(query: str, params: Any) -> tuple[str, list[Any]]:
    """`query` with $n placeholders instead of %s / %(name)s, and the values in that order."""
    if isinstance(params, dict):
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match.group(1) not in names:
                names.append(match.group(1))
            return f"${names.index(match.group(1)) + 1}"

        return re.sub(r"%\((\w+)\)s", number, query), [params[n] for n in names]
    counter = iter(range(1, len(params) + 1))
    return re.sub(r"%s", lambda _: f"${next(counter)}", query), list(params)


def explain_admin(admin_dsn: str, query: str, params: Any = None) -> str:
    """EXPLAIN (ANALYZE, BUFFERS) as the login role (the raw baselines); rolled back."""
    with psycopg.connect(admin_dsn) as conn:
        rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + query, params).fetchall()
        conn.rollback()
    return "\n".join(row[0] for row in rows)


@contextmanager
def statement_times() -> Iterator[dict[str, list[float]]]:
    """Wall time of every statement sent while the block runs, keyed by its first words."""
    times: dict[str, list[float]] = {}
    original = psycopg.Connection.execute

    def execute(self: psycopg.Connection[Any], query: Any, params: Any = None, **kw: Any) -> Any:
        key = " ".join(_text(self, query).split())[:70]
        start = time.perf_counter()
        try:
            return original(self, query, params, **kw)
        finally:
            times.setdefault(key, []).append(time.perf_counter() - start)

    psycopg.Connection.execute = execute  # type: ignore[method-assign]
    try:
        yield times
    finally:
        psycopg.Connection.execute = original  # type: ignore[method-assign]


def top_statements(times: dict[str, list[float]], n: int = 12) -> str:
    rows = sorted(times.items(), key=lambda kv: -sum(kv[1]))[:n]
    return "\n".join(f"{sum(v):9.3f} s {len(v):7d}×  {k}" for k, v in rows)

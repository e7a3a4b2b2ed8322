"""Queries over the read model for find, count and find_for_script.

The WHERE and ORDER BY clauses are assembled from fixed SQL fragments; every value is bound.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any
from uuid import UUID

from psycopg import sql

from projections.rows import EXECUTION_FIELDS, SCRIPT_FIELDS
from projections.tables import LIVE
from scripts_es.queries import ExecutionFindParams, ScriptFindParams
from scripts_es.store.sql import render

SCRIPT_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, SCRIPT_FIELDS))
EXECUTION_COLUMNS = sql.SQL(", ").join(map(sql.Identifier, EXECUTION_FIELDS))
_DIRECTION = {"asc": sql.SQL("ASC"), "desc": sql.SQL("DESC")}


def like_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally as a substring (\\ escapes % and _).

    The case is left alone: the query folds it in SQL, with the same `lower()` it applies to the
    column (and the trigram indexes to their keys). Python's `str.lower` disagrees with the
    database's (U+0130 "İ" -> "i̇" vs "i", final sigma, ...), so folding on both sides with
    different functions missed exact names.
    """
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def script_filters(tenant_id: UUID, criteria: ScriptFindParams) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("tenant_id = %s")]
    params: list[Any] = [tenant_id]

    def add(clause: str, *values: Any) -> None:
        clauses.append(sql.SQL(clause))
        params.extend(values)

    if criteria.type is not None:
        add("type = %s", criteria.type.value)
    if criteria.enabled is not None:
        add("is_enabled = %s", criteria.enabled)
    # Tag filters go through script_tags: `tag = ANY(...)` is index-usable under row-level
    # security, where the array operators && and @> are not (they are not LEAKPROOF).
    if criteria.tags_any is not None:
        add(
            "id IN (SELECT script_id FROM scripts_es.script_tags"
            " WHERE tenant_id = %s AND tag = ANY(%s::text[]))",
            tenant_id,
            list(criteria.tags_any),
        )
    if criteria.tags_all:  # every script has all of no tags
        add(
            "id IN (SELECT script_id FROM scripts_es.script_tags"
            " WHERE tenant_id = %s AND tag = ANY(%s::text[])"
            " GROUP BY script_id HAVING count(*) = %s)",
            tenant_id,
            list(criteria.tags_all),
            len(criteria.tags_all),
        )
    if criteria.search is not None:
        pattern = like_pattern(criteria.search)
        add(
            "(lower(name) LIKE lower(%s) ESCAPE '\\'"
            " OR lower(description) LIKE lower(%s) ESCAPE '\\')",
            pattern,
            pattern,
        )
    if criteria.created_by is not None:
        add("created_by = %s", criteria.created_by)
    if criteria.updated_after is not None:
        add("updated_at > %s", criteria.updated_after)
    if criteria.updated_before is not None:
        add("updated_at < %s", criteria.updated_before)
    return sql.SQL(" AND ").join(clauses), params


SortShape = tuple[tuple[tuple[str, str], ...], str]


def sort_shape(sort: tuple[tuple[str, str], ...]) -> SortShape:
    """What a caller's `sort` orders by: each field at its first mention (a later mention of the
    same field cannot change the order), and the tie-break direction, that of the last key.

    Callers can send endlessly many distinct sorts; they come down to a few hundred shapes.
    """
    keys: dict[str, str] = {}
    for field, direction in sort:
        keys.setdefault(field, direction)
    return tuple(keys.items()), sort[-1][1] if sort else "asc"


def order_by(sort: tuple[tuple[str, str], ...]) -> sql.Composable:
    """The sort keys, then id as the tie-break in the direction of the last key."""
    fields, last = sort_shape(sort)
    keys = [sql.SQL("{} {}").format(sql.Identifier(f), _DIRECTION[d]) for f, d in fields]
    keys.append(sql.SQL("id {}").format(_DIRECTION[last]))
    return sql.SQL(", ").join(keys)


def find_scripts_query(
    tenant_id: UUID, criteria: ScriptFindParams
) -> tuple[sql.Composed, list[Any]]:
    where, params = script_filters(tenant_id, criteria)
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
        SCRIPT_COLUMNS, LIVE.ids()["scripts"], where, order_by(criteria.sort)
    )
    return query, [*params, criteria.limit, criteria.offset]


def count_scripts_query(
    tenant_id: UUID, criteria: ScriptFindParams
) -> tuple[sql.Composed, list[Any]]:
    where, params = script_filters(tenant_id, criteria)
    query = sql.SQL("SELECT count(*) FROM {} WHERE {}").format(LIVE.ids()["scripts"], where)
    return query, params


def _script_filters_shape(criteria: ScriptFindParams) -> tuple[bool, ...]:
    """What the WHERE clause of a script query depends on (which filters, not their values)."""
    present = (
        criteria.type,
        criteria.enabled,
        criteria.tags_any,
        criteria.search,
        criteria.created_by,
    )
    dates = (criteria.updated_after, criteria.updated_before)
    return (*(v is not None for v in (*present, *dates)), bool(criteria.tags_all))


class RenderCache:
    """Rendered SQL per query shape, least recently used first out beyond `maxsize`.

    Keys are shapes (which filters are present, the normalised sort), never caller values, and
    the size is bounded whatever shapes callers send.
    """

    def __init__(self, maxsize: int) -> None:
        self.maxsize = maxsize
        self._texts: OrderedDict[tuple[Any, ...], str] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._texts)

    def get(self, key: tuple[Any, ...], query: sql.Composable) -> str:
        """The text of `query` (whose shape is `key`), rendered at most once while cached."""
        with self._lock:
            text = self._texts.get(key)
            if text is not None:
                self._texts.move_to_end(key)
                return text
        text = render(query)  # outside the lock: rendering is the slow part
        with self._lock:
            self._texts[key] = text
            self._texts.move_to_end(key)
            while len(self._texts) > self.maxsize:
                self._texts.popitem(last=False)
        return text

    def clear(self) -> None:
        with self._lock:
            self._texts.clear()


# The common shapes (a handful of filter combinations, a few sorts) fit many times over.
RENDERED = RenderCache(maxsize=512)


def find_scripts_sql(tenant_id: UUID, criteria: ScriptFindParams) -> tuple[str, list[Any]]:
    query, params = find_scripts_query(tenant_id, criteria)
    key = ("find", *_script_filters_shape(criteria), sort_shape(criteria.sort))
    return RENDERED.get(key, query), params


def count_scripts_sql(tenant_id: UUID, criteria: ScriptFindParams) -> tuple[str, list[Any]]:
    query, params = count_scripts_query(
        tenant_id, criteria
    )  # no ORDER BY: the sort is no part of it
    return RENDERED.get(("count", *_script_filters_shape(criteria)), query), params


def execution_filters(
    tenant_id: UUID, script_id: UUID, criteria: ExecutionFindParams
) -> tuple[sql.Composable, list[Any]]:
    clauses: list[sql.Composable] = [sql.SQL("tenant_id = %s AND script_id = %s")]
    params: list[Any] = [tenant_id, script_id]
    for clause, value in (
        ("status = %s", criteria.status and criteria.status.value),
        ("trigger_type = %s", criteria.trigger_type and criteria.trigger_type.value),
        ("started_at > %s", criteria.started_after),
        ("started_at < %s", criteria.started_before),
    ):
        if value is not None:
            clauses.append(sql.SQL(clause))
            params.append(value)
    return sql.SQL(" AND ").join(clauses), params


def find_executions_query(
    tenant_id: UUID, script_id: UUID, criteria: ExecutionFindParams
) -> tuple[sql.Composed, list[Any]]:
    where, params = execution_filters(tenant_id, script_id, criteria)
    query = sql.SQL("SELECT {} FROM {} WHERE {} ORDER BY {} LIMIT %s OFFSET %s").format(
        EXECUTION_COLUMNS, LIVE.ids()["executions"], where, order_by(criteria.sort)
    )
    return query, [*params, criteria.limit, criteria.offset]


def find_executions_sql(
    tenant_id: UUID, script_id: UUID, criteria: ExecutionFindParams
) -> tuple[str, list[Any]]:
    query, params = find_executions_query(tenant_id, script_id, criteria)
    present = (
        criteria.status,
        criteria.trigger_type,
        criteria.started_after,
        criteria.started_before,
    )
    key = ("executions", *(v is not None for v in present), sort_shape(criteria.sort))
    return RENDERED.get(key, query), params

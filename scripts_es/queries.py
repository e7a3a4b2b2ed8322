"""Query parameters for `find`, `count` and `find_for_script` (DESIGN §4)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, field_validator

from scripts_es.domain import validation as v
from scripts_es.domain.values import Count, ExecutionStatus, ScriptType, TriggerType, Value, utc
from scripts_es.errors import InvalidInput

Direction = Literal["asc", "desc"]
MAX_LIMIT = 1_000


def _aware(value: datetime | None, field: str) -> datetime | None:
    return None if value is None else utc(value, field)


class ScriptFindParams(Value):
    type: ScriptType | None = None
    enabled: bool | None = None
    tags_any: tuple[str, ...] | None = None
    tags_all: tuple[str, ...] | None = None
    search: str | None = None
    created_by: UUID | None = None
    updated_after: datetime | None = None
    updated_before: datetime | None = None
    sort: tuple[tuple[Literal["name", "created_at", "updated_at", "version"], Direction], ...] = (
        ("updated_at", "desc"),
    )
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: Count = 0  # 0 .. PostgreSQL bigint

    @field_validator("tags_any", "tags_all", mode="before")
    @classmethod
    def _tags(cls, value: object) -> object:
        # Tags are stored normalised, so normalise the filter the same way.
        return None if value is None else v.tags(value)

    @field_validator("search")
    @classmethod
    def _search(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if len(value) > v.MAX_SEARCH:
            raise InvalidInput(
                "search",
                f"must be at most {v.MAX_SEARCH} characters (no name or description is longer)",
            )
        return v.no_nul("search", value)

    @field_validator("updated_after", "updated_before")
    @classmethod
    def _dates(cls, value: datetime | None) -> datetime | None:
        return _aware(value, "updated_at")


class ExecutionFindParams(Value):
    status: ExecutionStatus | None = None
    trigger_type: TriggerType | None = None
    started_after: datetime | None = None
    started_before: datetime | None = None
    sort: tuple[tuple[Literal["started_at", "completed_at", "duration"], Direction], ...] = (
        ("started_at", "desc"),
    )
    limit: int = Field(default=50, ge=1, le=MAX_LIMIT)
    offset: Count = 0  # 0 .. PostgreSQL bigint

    @field_validator("started_after", "started_before")
    @classmethod
    def _dates(cls, value: datetime | None) -> datetime | None:
        return _aware(value, "started_at")

"""Field rules of DESIGN §3: each check raises InvalidInput naming the field."""

from __future__ import annotations

import re
from collections.abc import Iterable
from uuid import UUID

from scripts_es.errors import InvalidInput

MAX_NAME = 255
MAX_DESCRIPTION = 4_000
MAX_CONTENT_BYTES = 1024 * 1024
MAX_TAGS = 32
MAX_TAG = 64
MAX_PATH = 2_048
MAX_SEARCH = MAX_DESCRIPTION  # a longer search text is a substring of no name or description

# Numbers a caller hands in are bounded here, once, before any arithmetic or the database sees
# them (datetime arithmetic overflows past year 9999; the driver refuses integers past bigint).
MAX_DAYS = 36_500  # about 100 years: retention_days, older_than_days
MAX_BIGINT = 2**63 - 1  # PostgreSQL bigint: versions, counts and offsets sent to the database

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_WHITESPACE_OR_CONTROL = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")


def require_str(field: str, value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, not {type(value).__name__}")
    return value


def no_nul(field: str, value: str) -> str:
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    # A lone surrogate is not UTF-8: neither the JSON encoder nor PostgreSQL can store it.
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(field, "must be valid Unicode text (no lone surrogates)") from None
    return value


def name(value: object) -> str:
    text = no_nul("name", require_str("name", value)).strip()
    if not 1 <= len(text) <= MAX_NAME:
        raise InvalidInput("name", f"must be 1-{MAX_NAME} characters after stripping")
    if _CONTROL.search(text):
        raise InvalidInput("name", "must not contain control characters")
    return text


def description(value: object) -> str:
    text = no_nul("description", require_str("description", value))
    if len(text) > MAX_DESCRIPTION:
        raise InvalidInput("description", f"must be at most {MAX_DESCRIPTION} characters")
    return text


def content(value: object) -> str:
    text = no_nul("content", require_str("content", value))
    # Cheap bound first: a str never has more UTF-8 bytes than 4 per character.
    if len(text) * 4 > MAX_CONTENT_BYTES and len(text.encode("utf-8")) > MAX_CONTENT_BYTES:
        raise InvalidInput("content", "must be at most 1 MiB of UTF-8")
    return text


def tags(values: object) -> tuple[str, ...]:
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise InvalidInput("tags", "must be a list of strings")
    seen: dict[str, None] = {}
    for raw in values:
        tag = no_nul("tags", require_str("tags", raw)).strip().lower()
        if not 1 <= len(tag) <= MAX_TAG:
            raise InvalidInput("tags", f"each tag must be 1-{MAX_TAG} characters after stripping")
        if _CONTROL.search(tag):
            raise InvalidInput("tags", "tags must not contain control characters")
        seen.setdefault(tag, None)
    if len(seen) > MAX_TAGS:
        raise InvalidInput("tags", f"at most {MAX_TAGS} tags")
    return tuple(seen)


def http_path(value: object) -> str:
    path = no_nul("path", require_str("path", value))
    if not path.startswith("/"):
        raise InvalidInput("path", "must start with '/'")
    if len(path) > MAX_PATH:
        raise InvalidInput("path", f"must be at most {MAX_PATH} characters")
    if _WHITESPACE_OR_CONTROL.search(path):
        raise InvalidInput("path", "must not contain whitespace or control characters")
    return path


def whole_number(field: str, value: object, minimum: int, maximum: int, what: str) -> int:
    """An int (not a bool) in `minimum..maximum`; `what` names the bound in the message."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be a whole number, not {type(value).__name__}")
    if not minimum <= value <= maximum:
        raise InvalidInput(field, f"must be from {minimum} to {maximum} ({what})")
    return value


def days(field: str, value: object, *, minimum: int = 1) -> int:
    """A number of days, `minimum`..MAX_DAYS."""
    return whole_number(field, value, minimum, MAX_DAYS, "days, at most about 100 years")


def bigint(field: str, value: object, *, minimum: int = 0) -> int:
    """A version, count or offset that the database stores or compares as a bigint."""
    return whole_number(field, value, minimum, MAX_BIGINT, "a PostgreSQL bigint")


def tenant_filter(value: object) -> None:
    """An operator run covers one tenant (a UUID) or all of them (None)."""
    if value is not None and not isinstance(value, UUID):
        raise InvalidInput("tenant_id", "must be a UUID, or None for every tenant")

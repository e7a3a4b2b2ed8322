"""Valid commands as a host app would send them (plain JSON), for tests that need any script."""

from __future__ import annotations

from typing import Any

from scripts_es import commands as c
from scripts_es.domain import ScriptType

# Valid metadata for every script type.
METADATA: dict[ScriptType, dict[str, Any]] = {
    ScriptType.CRON: {"cron_expression": "*/5 * * * 1-5", "timezone": "Europe/Berlin"},
    ScriptType.HTTP: {"path": "/hooks/orders", "method": "post"},
    ScriptType.ONE_OFF: {},
    ScriptType.EMBEDDED: {},
}


def create_fields(type_: ScriptType | str = ScriptType.ONE_OFF, **fields: Any) -> dict[str, Any]:
    """The fields of a valid new script of `type_`; `fields` override the defaults."""
    script_type = ScriptType(type_)
    return {
        "name": f"{script_type.value} script",
        "content": "print('hello')",
        "type": script_type,
        "metadata": METADATA[script_type],
        **fields,
    }


def create_command(type_: ScriptType | str = ScriptType.ONE_OFF, **fields: Any) -> c.CreateScript:
    """A valid CreateScript of `type_`; `fields` override the defaults."""
    return c.CreateScript(**create_fields(type_, **fields))

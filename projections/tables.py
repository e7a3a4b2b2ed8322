"""Names of the read-model tables: the live ones, or a scratch set for rebuild and verify."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import sql


@dataclass(frozen=True)
class Tables:
    scripts: str = "scripts"
    script_versions: str = "script_versions"
    script_tags: str = "script_tags"
    executions: str = "executions"

    def ids(self) -> dict[str, sql.Composable]:
        """Schema-qualified identifiers to format into the SQL blocks."""
        return {
            "scripts": sql.Identifier("scripts_es", self.scripts),
            "script_versions": sql.Identifier("scripts_es", self.script_versions),
            "script_tags": sql.Identifier("scripts_es", self.script_tags),
            "executions": sql.Identifier("scripts_es", self.executions),
        }

    def all(self) -> tuple[str, str, str, str]:
        """In dependency order: parents before children."""
        return (self.scripts, self.script_versions, self.script_tags, self.executions)


LIVE = Tables()
SCRATCH = Tables(
    "scripts_scratch", "script_versions_scratch", "script_tags_scratch", "executions_scratch"
)
# A full rebuild's successors of the live tables: owned by the live tables' owner, so named
# apart from the scratch tables that verify and a per-tenant rebuild make as the maintenance role.
SUCCESSORS = Tables(
    "scripts_successor_scratch",
    "script_versions_successor_scratch",
    "script_tags_successor_scratch",
    "executions_successor_scratch",
)

"""scripts-es: event-sourced scripts and executions for multi-tenant apps on PostgreSQL.

The names below are loaded on first use, so importing a submodule (the domain, projections)
does not pull in the whole composition root.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scripts_es.module import Options, ScriptsModule, TenantSession
    from scripts_es.repositories import AutoPrune

__all__ = ["AutoPrune", "Options", "ScriptsModule", "TenantSession"]


def __getattr__(name: str) -> Any:
    if name in {"Options", "ScriptsModule", "TenantSession"}:
        from scripts_es import module

        return getattr(module, name)
    if name == "AutoPrune":
        from scripts_es.repositories import AutoPrune

        return AutoPrune
    raise AttributeError(f"module 'scripts_es' has no attribute {name!r}")

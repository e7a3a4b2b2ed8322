"""scripts-es: event-sourced scripts and executions for multi-tenant apps on PostgreSQL.

The names below are loaded on first use (PEP 562): `projections` is a top-level package that
imports `scripts_es.domain` and `scripts_es.store`, and the composition root imports
`projections`, so importing the root here eagerly would run it half-initialised whenever
`projections` is imported first. Importing a submodule never pulls in the whole module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scripts_es.aio.module import AsyncScriptsModule, AsyncTenantSession
    from scripts_es.module import ScriptsModule, TenantSession
    from scripts_es.settings import AutoPrune, Settings

__all__ = [
    "AsyncScriptsModule",
    "AsyncTenantSession",
    "AutoPrune",
    "ScriptsModule",
    "Settings",
    "TenantSession",
]


def __getattr__(name: str) -> Any:
    if name in {"ScriptsModule", "TenantSession"}:
        from scripts_es import module

        return getattr(module, name)
    if name in {"AsyncScriptsModule", "AsyncTenantSession"}:
        from scripts_es.aio import module as aio_module

        return getattr(aio_module, name)
    if name in {"AutoPrune", "Settings"}:
        from scripts_es import settings

        return getattr(settings, name)
    raise AttributeError(f"module 'scripts_es' has no attribute {name!r}")

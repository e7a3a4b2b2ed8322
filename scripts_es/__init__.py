"""scripts-es: event-sourced scripts and executions for multi-tenant apps on PostgreSQL."""

from scripts_es.module import Options, ScriptsModule, TenantSession
from scripts_es.repositories import AutoPrune

__all__ = ["AutoPrune", "Options", "ScriptsModule", "TenantSession"]

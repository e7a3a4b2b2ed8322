"""scripts-es: event-sourced scripts and executions for multi-tenant apps on PostgreSQL."""

from scripts_es.module import ScriptsModule, TenantSession

__all__ = ["ScriptsModule", "TenantSession"]

"""The pure domain: value objects, events and the immutable Script and Execution aggregates.

Imports only the standard library, pydantic and cronsim; never the store, projections or CLI.
"""

from scripts_es.domain.execution import Execution
from scripts_es.domain.script import Script
from scripts_es.domain.values import (
    CronMetadata,
    EmbeddedMetadata,
    ExecutionResult,
    ExecutionStatus,
    ExecutionTrigger,
    HTTPMetadata,
    LogEntry,
    OneOffMetadata,
    PruneResult,
    ScriptMetadata,
    ScriptType,
    TriggerType,
    VersionInfo,
    VersionRetentionPolicy,
)

__all__ = [
    "CronMetadata",
    "EmbeddedMetadata",
    "Execution",
    "ExecutionResult",
    "ExecutionStatus",
    "ExecutionTrigger",
    "HTTPMetadata",
    "LogEntry",
    "OneOffMetadata",
    "PruneResult",
    "Script",
    "ScriptMetadata",
    "ScriptType",
    "TriggerType",
    "VersionInfo",
    "VersionRetentionPolicy",
]

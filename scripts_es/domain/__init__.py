"""The pure domain: value objects, events and the immutable Script and Execution aggregates.

Of the project it imports only `scripts_es.errors` (checked by import-linter in `make lint`);
beyond that the standard library, pydantic and cronsim. Never the store, projections or CLI.
"""

from scripts_es.domain.execution import Execution
from scripts_es.domain.history import PruneResult, VersionInfo, VersionRetentionPolicy
from scripts_es.domain.runs import ExecutionResult, ExecutionTrigger, LogEntry
from scripts_es.domain.schedule import DueRun
from scripts_es.domain.script import Script
from scripts_es.domain.values import (
    CronMetadata,
    EmbeddedMetadata,
    ExecutionStatus,
    HTTPMetadata,
    OneOffMetadata,
    ScriptMetadata,
    ScriptType,
    TriggerType,
)

__all__ = [
    "CronMetadata",
    "DueRun",
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

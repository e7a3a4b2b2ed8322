"""The repository contract: tests written against the repository port, run by every backend.

As eventsourcing's `tests/persistence.py` does for recorders, a backend's test class subclasses
`ScriptRepositoryContract` and `ExecutionRepositoryContract` and provides one fixture,
`repositories`, returning a `Repositories`: one tenant's two repositories on a settable clock,
plus the few looks behind them that the contract needs (what is stored, which versions and
snapshots a stream holds, a second instance over the same storage). Every test of the base
classes then runs against it:

    class TestOnPostgres(ScriptRepositoryContract, ExecutionRepositoryContract):
        @pytest.fixture
        def repositories(self, ...) -> Repositories: ...
"""

from tests.support.conformance.base import (
    CONTENT,
    DESCRIPTION,
    EXPECTED_METADATA,
    ExecutionRepositoryPort,
    Repositories,
    ScriptRepositoryPort,
    assert_execution_reads_back,
    assert_reads_back,
    fields,
    new_script,
)
from tests.support.conformance.executions import ExecutionRepositoryContract
from tests.support.conformance.scripts import ScriptRepositoryContract

__all__ = [
    "CONTENT",
    "DESCRIPTION",
    "EXPECTED_METADATA",
    "ExecutionRepositoryContract",
    "ExecutionRepositoryPort",
    "Repositories",
    "ScriptRepositoryContract",
    "ScriptRepositoryPort",
    "assert_execution_reads_back",
    "assert_reads_back",
    "fields",
    "new_script",
]

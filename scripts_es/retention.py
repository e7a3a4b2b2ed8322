"""(being written)"""
from typing import Any


def prune_all_scripts(module: Any, policy: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def prune_all_executions(module: Any, days: Any, **kwargs: Any) -> Any:
    raise NotImplementedError

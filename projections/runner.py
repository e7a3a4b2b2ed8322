"""(being written)"""
from typing import Any


def status(db: Any) -> Any:
    raise NotImplementedError


def run(db: Any, store: Any, **kwargs: Any) -> Any:
    raise NotImplementedError

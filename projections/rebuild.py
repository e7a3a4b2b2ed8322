"""(being written)"""
from typing import Any


def rebuild(db: Any, store: Any, **kwargs: Any) -> Any:
    raise NotImplementedError


def verify(db: Any, store: Any, **kwargs: Any) -> Any:
    raise NotImplementedError

"""Maintenance entry points check their arguments before they reach the driver."""

from __future__ import annotations

from typing import Any

import pytest

from scripts_es import ScriptsModule
from scripts_es.errors import InvalidInput


@pytest.mark.parametrize("batch_size", [0, -1, 2**70, True, "x", 1.5])
def test_a_bad_runner_batch_size_is_invalid_input(module: ScriptsModule, batch_size: Any) -> None:
    with pytest.raises(InvalidInput) as raised:
        module.run_projections(once=True, batch_size=batch_size)
    assert raised.value.field == "batch_size"


@pytest.mark.parametrize("tenant_id", ["nope", 3, b"x"])
@pytest.mark.parametrize("work", ["rebuild_projections", "verify_projections"])
def test_a_tenant_filter_that_is_not_a_uuid_is_invalid_input(
    module: ScriptsModule, work: str, tenant_id: Any
) -> None:
    with pytest.raises(InvalidInput) as raised:
        getattr(module, work)(tenant_id=tenant_id)
    assert raised.value.field == "tenant_id"

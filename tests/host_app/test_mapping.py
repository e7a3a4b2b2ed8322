"""The host app's table of library errors to HTTP status codes (no server needed)."""

from __future__ import annotations

import uuid

import orjson
import pytest

from examples.host_app.errors import answer, status_of
from examples.host_app.headers import KEYS, command_id
from scripts_es import errors

ID = uuid.uuid4()


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFound("script", ID), 404),
        (errors.VersionPruned(ID, 1, 3), 410),
        (errors.ConcurrencyConflict(ID, 2), 409),
        (errors.RouteConflict("POST", "/hooks/x"), 409),
        (errors.Conflict("command_id reused"), 409),
        (errors.InvalidTransition("script is disabled"), 409),
        (errors.InvalidInput("name", "must not be empty"), 422),
        (errors.StorageUnavailable("database unreachable"), 503),
        (errors.PermissionDenied("role scripts_app may not"), 500),
        (RuntimeError("anything else"), 500),
    ],
)
def test_status_codes_and_body(error: Exception, status: int) -> None:
    assert status_of(error) == status
    response = answer(error)
    assert response.status_code == status
    assert orjson.loads(response.body) == {"error": type(error).__name__, "message": str(error)}
    assert (response.headers.get("Retry-After") == "1") == (status == 503)


def test_idempotency_keys() -> None:
    key = uuid.uuid4()
    assert command_id(str(key)) == key
    assert command_id("order-42") == uuid.uuid5(KEYS, "order-42") == command_id("order-42")
    assert command_id(None) is None
    assert command_id("  ") is None

"""examples/host_app over HTTP: a real uvicorn server on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.fixtures import shared_dsn  # noqa: F401


def who(tenant: uuid.UUID | None = None, **extra: str) -> dict[str, str]:
    return {"X-Tenant-Id": str(tenant or uuid.uuid4()), "X-User-Id": str(uuid.uuid4()), **extra}


@pytest.fixture
def http(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=30) as client:
        yield client


def script(name: str = "s", **fields: Any) -> dict[str, Any]:
    return {"name": name, "content": "print(1)", "type": "one_off", **fields}


def hook(path: str, method: str = "POST") -> dict[str, Any]:
    return script("hook", type="http", metadata={"path": path, "method": method})


def created(http: httpx.Client, headers: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
    answer = http.post("/scripts", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    data: dict[str, Any] = answer.json()
    return data


def wait_for(http: httpx.Client, headers: dict[str, str], execution_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while True:
        run: dict[str, Any] = http.get(f"/executions/{execution_id}", headers=headers).json()
        if run["status"] not in ("pending", "running"):
            return run
        assert time.monotonic() < deadline, run
        time.sleep(0.05)


def test_tenant_isolation(http: httpx.Client) -> None:
    a, b = who(), who()
    mine = created(http, a, script("a-only", tags=["x"]))
    ran = http.post("/executions", json={"script_id": mine["id"]}, headers=a).json()
    sid, eid = mine["id"], ran["id"]

    for method, path, body in [
        ("GET", f"/scripts/{sid}", None),
        ("GET", f"/scripts/{sid}/history", None),
        ("GET", f"/scripts/{sid}/versions/1", None),
        ("GET", f"/scripts/{sid}/executions", None),
        ("PATCH", f"/scripts/{sid}/content", {"content": "stolen"}),
        ("POST", f"/scripts/{sid}/disable", None),
        ("DELETE", f"/scripts/{sid}", None),
        ("GET", f"/executions/{eid}", None),
        ("POST", "/executions", {"script_id": sid}),
        ("POST", f"/executions/{eid}/complete", {"status": "failed"}),
    ]:
        answer = http.request(method, path, json=body, headers=b)
        assert answer.status_code == 404, (method, path, answer.text)
        assert answer.json()["error"] == "NotFound"

    assert [s["id"] for s in http.get("/scripts", headers=a).json()] == [sid]
    assert http.get("/scripts", headers=b).json() == []
    assert http.get("/scripts", params={"search": "a-only"}, headers=b).json() == []
    assert http.get("/scripts", params={"tags_any": "x"}, headers=b).json() == []
    # A's script is untouched by B's attempts.
    assert http.get(f"/scripts/{sid}", headers=a).json()["version"] == 1


def test_missing_or_bad_headers_are_422(http: httpx.Client) -> None:
    assert http.get("/scripts").status_code == 422
    answer = http.get("/scripts", headers={"X-Tenant-Id": "nope", "X-User-Id": str(uuid.uuid4())})
    assert answer.status_code == 422
    message = "X-Tenant-Id: must be a UUID, not 'nope'"
    assert answer.json() == {"error": "InvalidInput", "message": message}

"""examples/host_app over HTTP: a real uvicorn server on 127.0.0.1, driven with httpx."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from scripts_es import ScriptsModule
from scripts_es import commands as c
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


def test_route_dispatch_queues_the_body_and_the_worker_echoes_it(http: httpx.Client) -> None:
    a = who()
    owner = created(http, a, hook("/hooks/orders"))
    answer = http.post("/hooks/orders", json={"order": 7, "items": ["x"]}, headers=a)
    assert answer.status_code == 202, answer.text
    queued = answer.json()
    assert queued["script_id"] == owner["id"]
    assert queued["input"] == {"order": 7, "items": ["x"]}
    assert queued["trigger"]["type"] == "api"

    done = wait_for(http, a, queued["id"])
    assert done["status"] == "completed"
    assert orjson.loads(done["result"]["output"]) == {"order": 7, "items": ["x"]}
    listed = http.get(f"/scripts/{owner['id']}/executions", headers=a).json()
    assert [run["id"] for run in listed] == [queued["id"]]

    # Only the owner's method, only live routes, only the tenant's own.
    assert http.get("/hooks/orders", headers=a).status_code == 404
    assert http.post("/hooks/orders", json={}, headers=who()).status_code == 404
    assert http.post("/hooks/nothing-here", json={}, headers=a).status_code == 404
    assert http.post("/hooks/orders", content=b"[1]", headers=a).status_code == 422
    assert http.delete(f"/scripts/{owner['id']}", headers=a).status_code == 204
    gone = http.post("/hooks/orders", json={}, headers=a)
    assert gone.status_code == 404
    assert gone.json()["error"] == "NotFound"


def test_idempotency_key_is_the_command_id(http: httpx.Client) -> None:
    a = who()
    for key in (str(uuid.uuid4()), "order-42 retry"):  # a UUID as is, any other text hashed
        first = http.post("/scripts", json=script("once"), headers={**a, "Idempotency-Key": key})
        again = http.post("/scripts", json=script("once"), headers={**a, "Idempotency-Key": key})
        assert first.status_code == again.status_code == 201
        assert first.json() == again.json()
    names = [s["name"] for s in http.get("/scripts", headers=a).json()]
    assert names == ["once", "once"]  # one per key

    owner = created(http, a, hook("/hooks/pay"))
    keyed = {**a, "Idempotency-Key": "pay-1"}
    runs = [http.post("/hooks/pay", json={"n": 1}, headers=keyed).json() for _ in range(3)]
    assert len({run["id"] for run in runs}) == 1
    other = http.post("/hooks/pay", json={"n": 1}, headers={**a, "Idempotency-Key": "pay-2"})
    assert other.json()["id"] != runs[0]["id"]
    listed = http.get(f"/scripts/{owner['id']}/executions", headers=a).json()
    assert len(listed) == 2

    sid = owner["id"]
    change = {**a, "Idempotency-Key": str(uuid.uuid4())}
    one = http.patch(f"/scripts/{sid}/content", json={"content": "v2"}, headers=change)
    two = http.patch(f"/scripts/{sid}/content", json={"content": "v2"}, headers=change)
    assert one.json() == two.json()
    assert [v["version"] for v in http.get(f"/scripts/{sid}/history", headers=a).json()] == [1, 2]

    # The same key for another kind of command is a conflict, not a silent replay.
    reused = http.post(f"/scripts/{sid}/disable", headers=change)
    assert reused.status_code == 409, reused.text
    assert reused.json()["error"] == "Conflict"


def test_errors_map_to_status_codes(http: httpx.Client) -> None:
    a = who()
    first = created(http, a, hook("/hooks/taken"))
    sid = first["id"]

    taken = http.post("/scripts", json=hook("/hooks/taken"), headers=a)
    assert taken.status_code == 409
    assert taken.json() == {
        "error": "RouteConflict",
        "message": "route POST /hooks/taken is already taken by another script",
    }
    stale = http.patch(
        f"/scripts/{sid}/content", json={"content": "x", "expected_version": 7}, headers=a
    )
    assert stale.status_code == 409
    assert stale.json()["error"] == "ConcurrencyConflict"
    unknown = http.get(f"/scripts/{uuid.uuid4()}", headers=a)
    assert unknown.status_code == 404
    assert unknown.json()["message"].endswith("not found")

    for body in [
        script(type="nonsense"),
        script(name=""),
        {"name": "x"},
        script(surprise=1),
        script("hook", type="http", metadata={"path": "no-slash", "method": "POST"}),
    ]:
        answer = http.post("/scripts", json=body, headers=a)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.json()["error"] == "InvalidInput"
    assert http.post("/scripts", content=b"{", headers=a).status_code == 422
    assert http.get("/scripts", params={"limit": 0}, headers=a).status_code == 422
    assert http.get("/scripts", params={"sort": "colour:asc"}, headers=a).status_code == 422
    assert http.get("/scripts", params={"bogus": 1}, headers=a).status_code == 422
    assert http.get(f"/scripts/{sid}/versions/99", headers=a).status_code == 404

    bad_id = http.get("/scripts/not-a-uuid", headers=a)
    assert bad_id.status_code == 422
    assert bad_id.json()["message"].startswith("script_id: Input should be a valid UUID")

    assert http.post(f"/scripts/{sid}/disable", headers=a).status_code == 200
    disabled = http.post("/executions", json={"script_id": sid}, headers=a)
    assert disabled.status_code == 409
    assert disabled.json()["error"] == "InvalidTransition"


def test_a_pruned_version_is_410(http: httpx.Client, dsn: str) -> None:
    a = who()
    sid = created(http, a, script("pruned"))["id"]
    for n in range(3):
        http.patch(f"/scripts/{sid}/content", json={"content": f"v{n}"}, headers=a)
    with ScriptsModule.open(dsn, install=False) as module:
        tenant = module.tenant(uuid.UUID(a["X-Tenant-Id"]), uuid.UUID(a["X-User-Id"]))
        tenant.handle(c.PruneScriptHistory(script_id=uuid.UUID(sid), max_versions=1))
    gone = http.get(f"/scripts/{sid}/versions/1", headers=a)
    assert gone.status_code == 410
    assert gone.json()["error"] == "VersionPruned"
    assert http.get(f"/scripts/{sid}/versions/4", headers=a).json()["content"] == "v2"


def test_script_lifecycle_find_and_time_travel(http: httpx.Client) -> None:
    a = who()
    one = created(http, a, script("alpha", tags=["red", "blue"], description="first"))
    created(http, a, script("beta", type="embedded", tags=["red"]))
    sid = one["id"]
    assert http.patch(f"/scripts/{sid}/content", json={"content": "print(2)"}, headers=a).is_success
    details = {"name": "alpha2", "tags": ["green"]}
    assert http.patch(f"/scripts/{sid}/details", json=details, headers=a).is_success
    assert http.post(f"/scripts/{sid}/disable", headers=a).json()["is_enabled"] is False
    assert http.post(f"/scripts/{sid}/enable", headers=a).json()["is_enabled"] is True

    history = http.get(f"/scripts/{sid}/history", headers=a).json()
    assert [v["version"] for v in history] == [1, 2, 3, 4, 5]
    past = http.get(f"/scripts/{sid}/versions/1", headers=a).json()
    assert (past["name"], past["content"]) == ("alpha", "print(1)")

    def names(**params: Any) -> list[str]:
        answer = http.get("/scripts", params=params, headers=a)
        assert answer.status_code == 200, answer.text
        return [s["name"] for s in answer.json()]

    assert names(sort="name:asc") == ["alpha2", "beta"]
    assert names(sort="name:desc", limit=1) == ["beta"]
    assert names(type="embedded") == ["beta"]
    assert names(tags_any="green") == ["alpha2"]
    assert names(tags_all="red") == ["beta"]
    assert names(search="alpha") == ["alpha2"]
    assert names(enabled="true", sort="name") == ["alpha2", "beta"]
    assert http.get("/scripts", headers=a).headers["X-Total-Count"] == "2"

    run = http.post("/executions", json={"script_id": sid, "queue": False}, headers=a).json()
    assert run["status"] == "running"
    done = http.post(
        f"/executions/{run['id']}/complete",
        json={"status": "completed", "result": {"output": "fine"}},
        headers=a,
    )
    assert done.json()["status"] == "completed"
    found = http.get(f"/scripts/{sid}/executions", params={"status": "completed"}, headers=a)
    assert [r["id"] for r in found.json()] == [run["id"]]


BURST_IN_FLIGHT = 50


def test_a_burst_of_concurrent_writes_each_acknowledged_one_present_once(
    http: httpx.Client, base_url: str, dsn: str
) -> None:
    a, b = who(), who()
    owner = created(http, a, hook("/hooks/burst"))
    targets = [created(http, a, script(f"target-{i}"))["id"] for i in range(10)]
    b_hook = created(http, b, hook("/hooks/burst"))  # the same route in another tenant

    requests: list[tuple[str, str, str, dict[str, Any], dict[str, str]]] = []
    for i in range(200):
        keyed = {**a, "Idempotency-Key": f"create-{i}"}
        requests.append(("create", "POST", "/scripts", script(f"burst-{i}"), keyed))
        if i % 4 == 0:  # a retry of the same request, racing the first
            requests.append(("create", "POST", "/scripts", script(f"burst-{i}"), keyed))
    for i in range(200):
        keyed = {**a, "Idempotency-Key": f"update-{i}"}
        path = f"/scripts/{targets[i % 10]}/content"
        requests.append(("update", "PATCH", path, {"content": f"update-{i}"}, keyed))
    for i in range(200):
        tenant = b if i % 10 == 0 else a
        keyed = {**tenant, "Idempotency-Key": f"hook-{i}"}
        requests.append(("dispatch", "POST", "/hooks/burst", {"i": i}, keyed))
        if i % 4 == 0:
            requests.append(("dispatch", "POST", "/hooks/burst", {"i": i}, keyed))
    assert len(requests) >= 500

    in_doubt: list[str] = []

    async def burst() -> list[tuple[int, Any]]:
        gate = asyncio.Semaphore(BURST_IN_FLIGHT)
        limits = httpx.Limits(
            max_connections=BURST_IN_FLIGHT, max_keepalive_connections=BURST_IN_FLIGHT
        )
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:

            async def send(method: str, path: str, body: Any, headers: Any) -> tuple[int, Any]:
                async with gate:
                    for attempt in range(3):
                        try:
                            answer = await client.request(method, path, json=body, headers=headers)
                            return answer.status_code, answer.json()
                        except httpx.TransportError as error:
                            # No answer: the write is in doubt. What a client does then, with
                            # the same Idempotency-Key: the retry answers what happened.
                            in_doubt.append(f"{method} {path}: {type(error).__name__}")
                            if attempt == 2:
                                raise
                    raise AssertionError("unreachable")

            return await asyncio.gather(*(send(*r[1:]) for r in requests))

    answers = asyncio.run(burst())
    statuses = Counter(status for status, _ in answers)
    # The app retries a change without expected_version that lost a race a few times; a
    # ConcurrencyConflict after that is a refusal (nothing written), never a lost write.
    refused = [
        (request, data)
        for request, (status, data) in zip(requests, answers, strict=True)
        if status == 409
    ]
    assert all(r[0] == "update" and d["error"] == "ConcurrencyConflict" for r, d in refused)
    assert set(statuses) <= {200, 201, 202, 409}, statuses
    print(f"burst of {len(requests)} requests: {dict(statuses)}, retried in doubt: {in_doubt}")

    acked: dict[str, dict[str, Any]] = {}  # Idempotency-Key -> the answer
    for request, (status, data) in zip(requests, answers, strict=True):
        key = request[4]["Idempotency-Key"]
        if status == 409:
            continue
        if key in acked:  # a retry answers what the first answered
            assert acked[key] == data, key
        acked[key] = data

    # Creates: each name once, with the id its answers gave.
    found = http.get("/scripts", params={"search": "burst-", "limit": 1000}, headers=a).json()
    by_name = Counter(s["name"] for s in found if s["name"].startswith("burst-"))
    assert by_name == Counter(f"burst-{i}" for i in range(200))
    assert {s["id"] for s in found if s["name"].startswith("burst-")} == {
        acked[f"create-{i}"]["id"] for i in range(200)
    }

    # Updates: each target's history has one version per acknowledged update, each content
    # once, and no refused one.
    for n, sid in enumerate(targets):
        expected = Counter(f"update-{i}" for i in range(n, 200, 10) if f"update-{i}" in acked)
        history = http.get(f"/scripts/{sid}/history", headers=a).json()
        last = 1 + sum(expected.values())
        assert [v["version"] for v in history] == list(range(1, last + 1))
        contents = Counter(
            http.get(f"/scripts/{sid}/versions/{v}", headers=a).json()["content"]
            for v in range(2, last + 1)
        )
        assert contents == expected

    # Dispatches: one execution per key, in its own tenant, each completed with its echo.
    for tenant, hook_id, mine in [
        (a, owner["id"], [i for i in range(200) if i % 10]),
        (b, b_hook["id"], [i for i in range(200) if i % 10 == 0]),
    ]:
        deadline = time.monotonic() + 30
        while True:
            runs = http.get(
                f"/scripts/{hook_id}/executions", params={"limit": 1000}, headers=tenant
            ).json()
            if all(run["status"] == "completed" for run in runs) or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert sorted(run["id"] for run in runs) == sorted(acked[f"hook-{i}"]["id"] for i in mine)
        assert sorted(run["input"]["i"] for run in runs) == mine
        for run in runs:
            assert run["status"] == "completed"
            assert orjson.loads(run["result"]["output"]) == run["input"]

    with ScriptsModule.open(dsn, install=False) as module:
        report = module.verify_projections()
        assert report.ok, report
    verify = [sys.executable, "-m", "scripts_es.cli", "projections", "verify", "--dsn", dsn]
    ran = subprocess.run(verify, capture_output=True, text=True, timeout=60, check=False)
    assert ran.returncode == 0, ran.stdout + ran.stderr

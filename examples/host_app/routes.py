"""The REST surface: each endpoint builds one library command or query from the request.

Bodies are read as plain JSON and validated by the library's own models, so a bad field is
answered 422 with the library's message (not FastAPI's).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from examples.host_app.headers import CommandId, Tenant
from scripts_es import AsyncTenantSession
from scripts_es import commands as c
from scripts_es.errors import InvalidInput
from scripts_es.queries import ExecutionFindParams, ScriptFindParams

router = APIRouter()

MULTI = {"tags_any", "tags_all", "sort"}  # query parameters that may repeat


async def handle(t: AsyncTenantSession, command: c.Command) -> Any:
    """`t.handle(command)`. A change that names no `expected_version` is decided again by the
    library when a concurrent change got in first; with `expected_version` the conflict is
    the answer (409)."""
    return await t.handle(command)


def dump(value: Any, status: int = 200) -> JSONResponse:
    if isinstance(value, list):
        return JSONResponse([item.model_dump(mode="json") for item in value], status)
    return JSONResponse(value.model_dump(mode="json"), status)


async def body_of(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise InvalidInput("body", "must be JSON") from None
    if not isinstance(data, dict):
        raise InvalidInput("body", "must be a JSON object")
    return data


def query_of(request: Request) -> dict[str, Any]:
    """Query parameters as a dict for the library's params; `sort=name:asc` may repeat."""
    params: dict[str, Any] = {}
    for key in request.query_params:
        values = request.query_params.getlist(key)
        if key == "sort":
            params[key] = [tuple([*v.split(":", 1), "asc"][:2]) for v in values]
        elif key in MULTI:
            params[key] = [tag for v in values for tag in v.split(",") if tag]
        else:
            params[key] = values[-1]
    return params


# -- scripts ------------------------------------------------------------------------------------


@router.post("/scripts")
async def create_script(request: Request, t: Tenant, key: CommandId) -> JSONResponse:
    body = await body_of(request)
    command = c.CreateScript.parse({**body, "command_id": key})
    return dump(await handle(t, command), 201)


@router.get("/scripts")
async def find_scripts(request: Request, t: Tenant) -> JSONResponse:
    params = ScriptFindParams.parse(query_of(request))
    found = await t.scripts.find(params)
    total = await t.scripts.count(params)
    return JSONResponse(
        [s.model_dump(mode="json") for s in found], headers={"X-Total-Count": str(total)}
    )


@router.get("/scripts/{script_id}")
async def get_script(script_id: UUID, t: Tenant) -> JSONResponse:
    return dump(await t.scripts.find_by_id(script_id))


async def _change(
    request: Request, t: Tenant, key: UUID | None, kind: type[c.Command], script_id: UUID
) -> JSONResponse:
    body = await body_of(request)
    command = kind.parse({**body, "script_id": script_id, "command_id": key})
    return dump(await handle(t, command))


@router.patch("/scripts/{script_id}/content")
async def update_content(script_id: UUID, request: Request, t: Tenant, key: CommandId) -> Any:
    return await _change(request, t, key, c.UpdateScriptContent, script_id)


@router.patch("/scripts/{script_id}/metadata")
async def change_metadata(script_id: UUID, request: Request, t: Tenant, key: CommandId) -> Any:
    return await _change(request, t, key, c.ChangeScriptMetadata, script_id)


@router.patch("/scripts/{script_id}/details")
async def change_details(script_id: UUID, request: Request, t: Tenant, key: CommandId) -> Any:
    return await _change(request, t, key, c.ChangeScriptDetails, script_id)


@router.post("/scripts/{script_id}/enable")
async def enable(script_id: UUID, request: Request, t: Tenant, key: CommandId) -> Any:
    return await _change(request, t, key, c.EnableScript, script_id)


@router.post("/scripts/{script_id}/disable")
async def disable(script_id: UUID, request: Request, t: Tenant, key: CommandId) -> Any:
    return await _change(request, t, key, c.DisableScript, script_id)


@router.delete("/scripts/{script_id}")
async def delete(script_id: UUID, request: Request, t: Tenant, key: CommandId) -> Response:
    body = await body_of(request)
    await handle(t, c.DeleteScript.parse({**body, "script_id": script_id, "command_id": key}))
    return Response(status_code=204)


@router.get("/scripts/{script_id}/history")
async def history(script_id: UUID, t: Tenant) -> JSONResponse:
    return dump(await t.scripts.get_version_history(script_id))


@router.get("/scripts/{script_id}/versions/{version}")
async def version(script_id: UUID, version: int, t: Tenant) -> JSONResponse:
    return dump(await t.scripts.get_version(script_id, version))


# -- executions ---------------------------------------------------------------------------------


@router.get("/scripts/{script_id}/executions")
async def executions_of(script_id: UUID, request: Request, t: Tenant) -> JSONResponse:
    await t.scripts.find_by_id(script_id)  # 404 for an unknown (or another tenant's) script
    params = ExecutionFindParams.parse(query_of(request))
    return dump(await t.executions.find_for_script(script_id, params))


@router.get("/executions/{execution_id}")
async def get_execution(execution_id: UUID, t: Tenant) -> JSONResponse:
    return dump(await t.executions.find_by_id(execution_id))


@router.post("/executions")
async def start_execution(request: Request, t: Tenant, key: CommandId) -> JSONResponse:
    """Body: `{"script_id", "input"?, "trigger"?, "queue"?: true}`. Queued (pending, for the
    worker) by default; `"queue": false` records it as running (the caller runs it)."""
    body = await body_of(request)
    queue = body.pop("queue", True)
    body.setdefault("trigger", {"type": "api", "triggered_by": str(t.session.user_id)})
    kind = c.EnqueueExecution if queue is not False else c.StartExecution
    return dump(await handle(t, kind.parse({**body, "command_id": key})), 201)


@router.post("/executions/{execution_id}/complete")
async def complete_execution(
    execution_id: UUID, request: Request, t: Tenant, key: CommandId
) -> JSONResponse:
    body = await body_of(request)
    command = c.CompleteExecution.parse({**body, "execution_id": execution_id, "command_id": key})
    return dump(await handle(t, command))


# -- http scripts: dispatch -----------------------------------------------------------------------


@router.api_route("/hooks/{path:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
async def dispatch(path: str, request: Request, t: Tenant, key: CommandId) -> JSONResponse:
    """The http script owning (method, path) gets a queued execution with the body as input;
    202 with it (the worker runs it later). 404 when no live script owns the route."""
    script = await t.scripts.find_by_route(request.method, request.url.path)
    body = await body_of(request)
    command = c.EnqueueExecution(
        script_id=script.id,
        trigger={"type": "api", "triggered_by": t.session.user_id},
        input=body,
        command_id=key,
    )
    return dump(await handle(t, command), 202)

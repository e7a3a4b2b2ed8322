"""Library errors as HTTP answers: `{"error": <type name>, "message": <the library's message>}`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

from scripts_es import errors

STATUS: list[tuple[type[Exception], int]] = [  # the first matching class wins
    (errors.VersionPruned, 410),  # it existed, and is gone for good
    (errors.NotFound, 404),
    (errors.Conflict, 409),  # ConcurrencyConflict, RouteConflict, a reused command_id
    (errors.InvalidTransition, 409),
    (errors.InvalidInput, 422),
    (errors.StorageUnavailable, 503),
    (errors.PermissionDenied, 500),  # the host's deployment is wrong, not the request
]


def status_of(error: Exception) -> int:
    return next((code for kind, code in STATUS if isinstance(error, kind)), 500)


def answer(error: Exception) -> JSONResponse:
    body = {"error": type(error).__name__, "message": str(error)}
    headers = {"Retry-After": "1"} if status_of(error) == 503 else None
    return JSONResponse(body, status_code=status_of(error), headers=headers)


async def _handler(request: Request, error: Exception) -> JSONResponse:
    return answer(error)


async def _request_handler(request: Request, error: Exception) -> JSONResponse:
    """FastAPI's own validation (a path parameter that is no UUID), in the same shape."""
    assert isinstance(error, RequestValidationError)
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"][1:]) or "request"
    return answer(errors.InvalidInput(field, first["msg"]))


async def _gone_handler(request: Request, error: Exception) -> Response:
    """The client hung up while sending its body: nobody reads this answer, nothing was done."""
    return Response(status_code=499)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ClientDisconnect, _gone_handler)
    app.add_exception_handler(errors.ScriptsError, _handler)
    app.add_exception_handler(RequestValidationError, _request_handler)

"""Who is asking, from request headers.

Authentication is the host's business: this example *trusts* `X-Tenant-Id` and `X-User-Id` as
sent. A real host derives them from its own session or token (after checking it) and never lets
a caller choose its tenant.
"""

from __future__ import annotations

import uuid
from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request

from scripts_es import AsyncScriptsModule, AsyncTenantSession
from scripts_es.errors import InvalidInput

# A non-UUID Idempotency-Key becomes uuid5(KEYS, key); command ids are scoped by tenant already.
KEYS = UUID("6f1c0f5e-8d7a-4c39-9d0e-5a3b1f2c7e41")


def _uuid(header: str, value: str | None) -> UUID:
    if value is None:
        raise InvalidInput(header, "header is required (a UUID)")
    try:
        return UUID(value)
    except ValueError:
        raise InvalidInput(header, f"must be a UUID, not {value!r}") from None


def module_of(request: Request) -> AsyncScriptsModule:
    module: AsyncScriptsModule = request.app.state.module
    return module


def tenant_session(
    request: Request,
    x_tenant_id: Annotated[str | None, Header()] = None,
    x_user_id: Annotated[str | None, Header()] = None,
) -> AsyncTenantSession:
    tenant_id = _uuid("X-Tenant-Id", x_tenant_id)
    user_id = _uuid("X-User-Id", x_user_id)
    return module_of(request).tenant(tenant_id, user_id)


def command_id(idempotency_key: Annotated[str | None, Header()] = None) -> UUID | None:
    """`Idempotency-Key` as the command's `command_id`: a UUID as is, anything else hashed."""
    if idempotency_key is None or not idempotency_key.strip():
        return None
    try:
        return UUID(idempotency_key)
    except ValueError:
        return uuid.uuid5(KEYS, idempotency_key)


Tenant = Annotated[AsyncTenantSession, Depends(tenant_session)]
CommandId = Annotated[UUID | None, Depends(command_id)]

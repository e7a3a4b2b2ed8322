"""The app: `uvicorn examples.host_app.app:app` with `SCRIPTS_ES_DSN` set.

The lifespan opens the async module (installing the schema if needed) and starts the worker;
at shutdown it stops the worker, then closes the module.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from examples.host_app import errors
from examples.host_app.routes import router
from examples.host_app.worker import EchoRunner, Runner, Worker
from scripts_es import AsyncScriptsModule


def create_app(dsn: str | None = None, runner: Runner | None = None) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool_size = int(os.environ.get("SCRIPTS_ES_POOL_SIZE", "8"))
        async with AsyncScriptsModule.open(
            dsn or os.environ.get("SCRIPTS_ES_DSN"), pool_size=pool_size
        ) as module:
            worker = Worker(module, runner or EchoRunner())
            app.state.module = module
            worker.start()
            try:
                yield
            finally:
                await worker.stop()

    app = FastAPI(title="scripts-es host app", lifespan=lifespan)
    errors.install(app)
    app.include_router(router)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


app = create_app()

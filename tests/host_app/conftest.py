"""A real uvicorn server running examples/host_app on 127.0.0.1, over the file's database."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
UVICORN = [sys.executable, "-m", "uvicorn", "examples.host_app.app:app"]
UVICORN += ["--host", "127.0.0.1", "--log-level", "info", "--no-access-log"]
# uvicorn closes a keep-alive connection idle for 5 s; a client reusing it at that moment gets
# a ReadError (seen under load, when the pool leaves some connections idle): longer, here.
UVICORN += ["--timeout-keep-alive", "60"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = {**os.environ, "SCRIPTS_ES_DSN": dsn}
    log = tmp_path_factory.mktemp("uvicorn") / "server.log"
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [*UVICORN, "--port", str(port)], cwd=ROOT, env=env, stdout=sink, stderr=sink
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not answer /healthz in 30 s"
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            raise AssertionError("uvicorn did not stop within 10 s of SIGTERM") from None
    # uvicorn re-raises SIGTERM after a graceful shutdown, so its exit code says nothing: its
    # log does (the lifespan stopped the worker and closed the module, nothing went wrong).
    text = log.read_text()
    assert "Application shutdown complete." in text, text
    assert "Traceback" not in text and "ERROR" not in text, text

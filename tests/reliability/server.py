"""A PostgreSQL server of the harness's own, from the binaries of the `pgserver` wheel.

It lives in a temporary directory, listens on 127.0.0.1 on a free port (and on a unix socket in
that directory), and is driven with pg_ctl so that the harness can restart it (fast or
immediate) while writers use it. It is never the shared test server.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg


def bin_dir() -> Path:
    import pgserver

    path = Path(pgserver.__file__).resolve().parent / "pginstall" / "bin"
    if not (path / "pg_ctl").exists():
        raise RuntimeError(f"no PostgreSQL binaries in {path}")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """initdb + pg_ctl on a temporary data directory; `dsn` is a superuser DSN over TCP."""

    DBNAME = "scripts_es_reliability"

    def __init__(self, root: Path | None = None) -> None:
        self.bin = bin_dir()
        self.root = Path(root or tempfile.mkdtemp(prefix="sces-rel-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        # initdb and postgres refuse to run as root: run them as pgserver's own system user.
        self.user: str | None = None
        if os.geteuid() == 0:
            from pgserver.utils import ensure_user_exists

            self.user = "pgserver"
            ensure_user_exists(self.user)
            shutil.chown(self.root, self.user, self.user)

    # -- commands ------------------------------------------------------------------------------

    def _run(self, exe: str, *args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
        kwargs: dict[str, Any] = {"user": self.user} if self.user else {}
        return subprocess.run(
            [str(self.bin / exe), *args],
            check=True,
            capture_output=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            text=True,
            timeout=timeout,
            cwd=self.root,
            **kwargs,
        )

    def init(self) -> None:
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=utf8",
            "--no-sync",
        )
        options = [
            f"port = {self.port}",
            "listen_addresses = '127.0.0.1'",
            f"unix_socket_directories = '{self.root}'",
            "max_connections = 200",
            "shared_buffers = 32MB",
            "fsync = on",
            "synchronous_commit = on",
            "log_min_messages = warning",
            "log_line_prefix = '%m [%p] %a '",
        ]
        with open(self.data / "postgresql.conf", "a") as conf:
            conf.write("\n# tests/reliability\n" + "\n".join(options) + "\n")

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60", "start")
        self.wait_ready()

    def restart(self, mode: str) -> None:
        """`pg_ctl restart -m fast|immediate`: every connection dies; immediate skips shutdown."""
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-m",
            mode,
            "restart",
        )

    def stop_and_start(self, mode: str, down: float) -> None:
        """`pg_ctl stop -m fast|immediate`, `down` seconds without a server, `pg_ctl start`."""
        self._run("pg_ctl", "-D", str(self.data), "-w", "-t", "60", "-m", mode, "stop")
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # -- access --------------------------------------------------------------------------------

    def dsn_for(self, dbname: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}?connect_timeout=5"

    @property
    def admin_dsn(self) -> str:
        return self.dsn_for("postgres")

    @property
    def dsn(self) -> str:
        return self.dsn_for(self.DBNAME)

    def create_database(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.DBNAME}"')

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                    conn.execute("SELECT 1")
                return
            except psycopg.Error:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def terminate_backends(self, application_name: str = "scripts-es") -> int:
        """pg_terminate_backend of every connection of the module (by application_name)."""
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND application_name = %s AND pid <> pg_backend_pid()",
                (self.DBNAME, application_name),
            ).fetchall()
        return sum(1 for (ok,) in rows if ok)

"""The zero-setup default: an embedded PostgreSQL (the `pgserver` wheel) in a per-user directory."""

from __future__ import annotations

import warnings
from pathlib import Path

import platformdirs


def default_data_dir() -> Path:
    """Where the embedded server keeps its data unless SCRIPTS_ES_DATA_DIR says otherwise."""
    return Path(platformdirs.user_data_dir("scripts-es")) / "pgdata"


def embedded_dsn(data_dir: Path) -> str:
    """Start (or reuse) the embedded server in `data_dir` and return a DSN for it.

    The server keeps running while any process uses it and stops when the last one exits.
    """
    # A heavy import, only when the embedded server is really wanted.
    from pgserver import get_server  # type: ignore[attr-defined]

    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI); it copes fine.
        warnings.simplefilter("ignore", UserWarning)
        server = get_server(data_dir, cleanup_mode="stop")
    return str(server.get_uri())

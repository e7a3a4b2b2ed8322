"""The one place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from scripts_es.store.embedded import default_data_dir, embedded_dsn


def resolve_dsn(dsn: str | None, environ: Mapping[str, str] | None = None) -> str:
    """`dsn` if given, else SCRIPTS_ES_DSN, else an embedded server in SCRIPTS_ES_DATA_DIR."""
    env = os.environ if environ is None else environ
    if dsn:
        return dsn
    if env.get("SCRIPTS_ES_DSN"):
        return env["SCRIPTS_ES_DSN"]
    data_dir = env.get("SCRIPTS_ES_DATA_DIR")
    return embedded_dsn(Path(data_dir) if data_dir else default_data_dir())

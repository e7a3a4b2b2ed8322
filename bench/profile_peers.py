"""`python -m bench.profile_peers [N]`: where one command (ours) and one save (the library's) go.

N steps of each side under cProfile on dedicated databases (the same writers as bench/peers.py),
printing wall and client CPU time per step and the top functions by cumulative time.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.peers import LibraryWriter, PeerApp, calibrate, library_env
from bench.server import dedicated_database, server_dsn
from bench.writers import CommandWriter
from scripts_es import ScriptsModule


def _profile(name: str, step: Callable[[], None], n: int, top: int) -> dict[str, Any]:
    for _ in range(50):
        step()
    profile = cProfile.Profile()
    wall, cpu = time.perf_counter(), time.process_time()
    profile.enable()
    for _ in range(n):
        step()
    profile.disable()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    print(
        f"=== {name}: {n / wall:,.0f}/s, wall {wall / n * 1e6:,.0f} µs/step, "
        f"client CPU {cpu / n * 1e6:,.0f} µs/step (profiled)"
    )
    print(out.getvalue())
    return {"per_s": n / wall, "cpu_us": cpu / n * 1e6}


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv else 500
    dsn, _ = server_dsn()
    with (
        dedicated_database(dsn) as ours_dsn,
        dedicated_database(dsn) as library_dsn,
        ScriptsModule.open(ours_dsn) as module,
    ):
        pad = calibrate(module, ours_dsn, library_dsn)["pad"]
        app = PeerApp(env=library_env(library_dsn))
        try:
            ours = CommandWriter(module, uuid.uuid4(), uuid.uuid4())
            theirs = LibraryWriter(app, pad)
            _profile("scripts-es handle(UpdateScriptContent)", ours.step, n, 30)
            _profile("eventsourcing app.save(document)", theirs.step, n, 30)
        finally:
            app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

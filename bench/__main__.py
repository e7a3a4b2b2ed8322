"""`python -m bench [--quick]`: run every phase on a dedicated database, print, write JSON."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.config import FULL, QUICK
from bench.report import write
from bench.run import PHASES, run
from bench.server import dedicated_database, server_dsn, server_facts


def machine() -> dict[str, Any]:
    mem_kb = 0
    with open("/proc/meminfo") as meminfo:
        for line in meminfo:
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "loadavg_start": os.getloadavg(),
    }


def revision() -> dict[str, Any]:
    """The commit measured, and whether the package had uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            done = subprocess.run(
                ["git", "-C", str(root), *args], capture_output=True, text=True, timeout=10
            )
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip()

    dirty = git("status", "--porcelain", "--", "scripts_es", "projections", "schema.sql")
    return {"git_head": git("rev-parse", "--short", "HEAD"), "package_dirty": bool(dirty)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the short run (< 3 minutes)")
    parser.add_argument("--only", default="", help=f"comma-separated subset of {PHASES}")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark database")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    only = {p for p in args.only.split(",") if p}
    if only - set(PHASES):
        parser.error(f"unknown phase(s) {sorted(only - set(PHASES))}; choose from {PHASES}")
    dsn, source = server_dsn()
    started = time.perf_counter()
    results: dict[str, Any] = {
        "meta": {
            "mode": scale.name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "server": source,
            **machine(),
            **revision(),
            **server_facts(dsn),
            "scale": vars(scale),
        }
    }
    with dedicated_database(dsn, keep=args.keep) as db:
        run(db, scale, only, results)
    results["meta"]["loadavg_end"] = os.getloadavg()
    results["meta"]["seconds"] = round(time.perf_counter() - started, 1)
    write(results, args.out)
    print(f"[bench] wrote {args.out} ({results['meta']['seconds']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

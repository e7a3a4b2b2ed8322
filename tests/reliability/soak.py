"""The long run of the fault harness (`make soak`): prints the summary as JSON, exit 1 on any
violation.

    python -m tests.reliability.soak --seconds 45 --writers 4 [--tenants 5] [--slots 10]
        [--seed N] [--no-maintenance] [--keep] [--out summary.json]

Faults are scaled to the run (about one every 2.5 s: restarts fast and immediate, writer
SIGKILLs, backend terminations); --faults overrides them, e.g.
--faults restart_fast=4,kill_writer=2 (kinds not named are not injected).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import orjson

from tests.reliability.harness import FAULT_KINDS, HarnessConfig, run


def parse_faults(text: str) -> dict[str, int]:
    faults = {kind: 0 for kind in FAULT_KINDS}
    for part in filter(None, text.split(",")):
        kind, _, n = part.partition("=")
        if kind not in faults:
            raise argparse.ArgumentTypeError(f"unknown fault {kind!r}; one of {FAULT_KINDS}")
        faults[kind] = int(n)
    return faults


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.reliability.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--seconds", type=float, default=45.0, help="time under faults")
    parser.add_argument("--writers", type=int, default=4, help="writer processes")
    parser.add_argument("--tenants", type=int, default=5)
    parser.add_argument("--slots", type=int, default=10, help="scripts per tenant")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--faults", type=parse_faults, default=None)
    parser.add_argument("--no-maintenance", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--workdir", default=None)
    parser.add_argument("--out", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    common = dict(
        tenants=args.tenants,
        slots=args.slots,
        seed=args.seed,
        maintenance=not args.no_maintenance,
        keep=args.keep,
        workdir=args.workdir,
    )
    if args.faults is not None:
        cfg = HarnessConfig(
            seconds=args.seconds, writers=args.writers, faults=args.faults, **common
        )
    else:
        cfg = HarnessConfig.for_seconds(args.seconds, args.writers, **common)
    summary = run(cfg)
    text = orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str)
    if args.out:
        args.out.write_bytes(text + b"\n")
    sys.stdout.buffer.write(text + b"\n")
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())

"""The fault harness of issue 9: writer processes under faults, then every promise checked.

    summary = run(HarnessConfig(seconds=20, writers=3))

1. Start a PostgreSQL server of its own (tests/reliability/server.py) and install the schema.
2. Start `writers` writer processes (tests/reliability/writer.py), each journaling what it sent
   and every command acknowledged to it.
3. For `seconds`, inject faults at spread-out random moments: `pg_ctl restart -m fast`,
   `pg_ctl restart -m immediate`, SIGKILL of a writer (a fresh one replaces it),
   `pg_terminate_backend` of the module's connections. Alongside, run the maintenance CLI as
   subprocesses, one after another: `projections verify`, `projections rebuild`,
   `prune scripts --max-versions 2`, `prune executions --older-than-days 0`; each run's exit
   code is kept with the faults it overlapped.
4. Stop the faults, wait for a healthy server, stop the writers, run `projections verify` once
   more, then check (tests/reliability/checks.py): every acknowledged command in its stream
   exactly once at the version its result names (or below a prune horizon the stream passed),
   replays identical, no answer older than an earlier acknowledgement, streams contiguous from
   the horizon, no event below a horizon, current state = the fold of each stream, one live
   script per route, no event that no writer sent, no error outside scripts_es.errors.

The summary (a JSON-able dict) counts what was done and every violation found, with a timeline
from the journals for each.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from scripts_es import ScriptsModule
from scripts_es.store.database import install_schema
from tests.reliability import checks
from tests.reliability.server import Server

ROOT = Path(__file__).resolve().parents[2]
CLI = Path(sys.executable).parent / "scripts-es"
# Writers and the CLI import the same code as the harness (this checkout), whatever the venv's
# editable install points at.
_PATH = [str(ROOT), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join(_PATH)}
FAULT_KINDS = ("restart_fast", "restart_immediate", "kill_writer", "terminate_backends")
# Faults that can hit a maintenance run (its own connections die).
HITTING = ("restart_fast", "restart_immediate", "terminate_backends")
# How a CLI run fails when a fault took its database away (scripts_es.errors.StorageUnavailable
# and the driver's words under it). Any other failure is never excused by a fault.
OUTAGE_MESSAGES = (
    "database unavailable",
    "terminating connection",
    "connection is lost",
    "server closed the connection",
    "connection refused",
    "the database system is",
)
MAINTENANCE: dict[str, list[str]] = {
    "projections verify": ["projections", "verify"],
    "projections rebuild": ["projections", "rebuild"],
    "prune scripts": ["prune", "scripts", "--max-versions", "2"],
    "prune executions": ["prune", "executions", "--older-than-days", "0"],
}


@dataclass
class HarnessConfig:
    seconds: float = 20.0  # how long writers run under faults
    writers: int = 3
    tenants: int = 3
    slots: int = 6  # scripts per tenant (types cycle cron, http, one_off, embedded)
    faults: dict[str, int] = field(
        default_factory=lambda: {
            "restart_fast": 2,
            "restart_immediate": 2,
            "kill_writer": 2,
            "terminate_backends": 3,
        }
    )
    maintenance: bool = True
    maintenance_pause: tuple[float, float] = (0.3, 1.2)
    maintenance_timeout: float = 120.0
    think: float = 0.0  # writer sleep between commands
    seed: int | None = None
    workdir: str | None = None  # default: a temporary directory, removed unless keep
    keep: bool = False
    max_violations: int = 25  # how many violations the summary spells out (all are counted)

    @classmethod
    def for_seconds(cls, seconds: float, writers: int, **kw: Any) -> HarnessConfig:
        """Fault counts scaled to the run: about one fault every 2.5 seconds."""
        n = max(1, round(seconds / 2.5))
        share = {
            "restart_fast": 0.2,
            "restart_immediate": 0.2,
            "kill_writer": 0.25,
            "terminate_backends": 0.35,
        }
        faults = {k: max(1, round(n * v)) for k, v in share.items()}
        return cls(seconds=seconds, writers=writers, faults=faults, **kw)


@dataclass
class Fault:
    kind: str
    start: float
    end: float
    detail: str = ""
    error: str | None = None


@dataclass
class MaintenanceRun:
    name: str
    start: float
    end: float
    exit_code: int | None  # None: timed out and killed
    faults: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def hit(self) -> bool:
        return any(kind in HITTING for kind in self.faults)

    @property
    def outage_failure(self) -> bool:
        """Failed the way an outage fails (unreachable, connection lost), nothing else."""
        lines = [line for line in self.stderr.lower().splitlines() if "error:" in line]
        text = lines[-1] if lines else self.stderr.lower()  # the CLI's own last word
        return self.exit_code not in (0, None) and any(p in text for p in OUTAGE_MESSAGES)


class WriterPool:
    def __init__(self, h: Harness) -> None:
        self.h = h
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.generation: dict[int, int] = defaultdict(int)
        self.started = 0
        self.exits: list[tuple[str, int | None]] = []

    def start(self, writer: int) -> None:
        gen = self.generation[writer]
        cfg = {
            "dsn": self.h.server.dsn,
            "journal": str(self.h.journals / f"w{writer}-g{gen}.jsonl"),
            "stop_file": str(self.h.stop_file),
            "run_id": self.h.run_id,
            "writer": writer,
            "generation": gen,
            "seed": self.h.seed,
            "tenants": self.h.tenants,
            "slots": self.h.cfg.slots,
            "think": self.h.cfg.think,
            "max_seconds": self.h.cfg.seconds + 300,
        }
        log = open(self.h.work / f"w{writer}-g{gen}.log", "wb")  # noqa: SIM115
        self.procs[writer] = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.writer", orjson.dumps(cfg).decode()],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=ENV,
        )
        log.close()
        self.started += 1

    def kill(self, writer: int) -> str:
        proc = self.procs[writer]
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        self.exits.append((f"w{writer}-g{self.generation[writer]}", -9))
        self.generation[writer] += 1
        self.start(writer)
        return f"writer {writer} (pid {proc.pid})"

    def stop_all(self, timeout: float) -> list[str]:
        """Ask every writer to stop (the stop file); kill and report those that do not."""
        self.h.stop_file.touch()
        hung = []
        deadline = time.monotonic() + timeout
        for writer, proc in self.procs.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                hung.append(f"w{writer}-g{self.generation[writer]}")
            self.exits.append((f"w{writer}-g{self.generation[writer]}", proc.returncode))
        return hung


class Harness:
    def __init__(self, cfg: HarnessConfig) -> None:
        self.cfg = cfg
        self.seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(2**31)
        self.rng = random.Random(self.seed)
        self.run_id = uuid.UUID(int=self.rng.getrandbits(128)).hex[:12]
        self.work = (
            Path(cfg.workdir)
            if cfg.workdir
            else Path(__import__("tempfile").mkdtemp(prefix="sces-harness-"))
        )
        self.work.mkdir(parents=True, exist_ok=True)
        self.work.chmod(0o755)  # the server may run as another system user (see server.py)
        self.journals = self.work / "journals"
        self.journals.mkdir(exist_ok=True)
        self.stop_file = self.work / "stop"
        self.tenants = [
            str(uuid.uuid5(uuid.NAMESPACE_URL, f"{self.run_id}/tenant/{i}"))
            for i in range(cfg.tenants)
        ]
        self.server = Server(self.work / "pg")
        self.faults: list[Fault] = []
        self.maintenance: list[MaintenanceRun] = []
        self.lock = threading.Lock()
        self.t0 = time.monotonic()

    # -- faults --------------------------------------------------------------------------------

    def schedule(self) -> list[tuple[float, str]]:
        kinds = [k for k, n in self.cfg.faults.items() for _ in range(n)]
        self.rng.shuffle(kinds)
        window = self.cfg.seconds
        gap = window / (len(kinds) + 1)
        return [
            (gap * (i + 1) + self.rng.uniform(-0.3, 0.3) * gap, kind)
            for i, kind in enumerate(kinds)
        ]

    def inject(self, kind: str, pool: WriterPool) -> None:
        fault = Fault(kind, time.monotonic(), 0.0)
        try:
            if kind.startswith("restart_"):
                mode = kind.removeprefix("restart_")
                # Half the restarts are pg_ctl restart; the others keep the server down for a
                # while, longer than the module's own retries, so that writers see
                # StorageUnavailable and retry with the same command_id.
                if self.rng.random() < 0.5:
                    self.server.restart(mode)
                    fault.detail = f"pg_ctl restart -m {mode}"
                else:
                    down = round(self.rng.uniform(0.5, 2.0), 2)
                    self.server.stop_and_start(mode, down)
                    fault.detail = f"pg_ctl stop -m {mode}, down {down}s, pg_ctl start"
            elif kind == "kill_writer":
                fault.detail = pool.kill(self.rng.choice(sorted(pool.procs)))
            elif kind == "terminate_backends":
                fault.detail = f"{self.server.terminate_backends()} backends terminated"
            else:
                raise ValueError(kind)
        except Exception as error:
            fault.error = repr(error)
        fault.end = time.monotonic()
        with self.lock:
            self.faults.append(fault)

    # -- maintenance ---------------------------------------------------------------------------

    def maintain(self, stop: threading.Event) -> None:
        names = list(MAINTENANCE)
        while not stop.is_set():
            self.rng.shuffle(names)
            for name in names:
                if stop.is_set():
                    return
                self.maintenance.append(self.run_cli(name))
                stop.wait(self.rng.uniform(*self.cfg.maintenance_pause))

    def run_cli(self, name: str) -> MaintenanceRun:
        args = [str(CLI), "--dsn", self.server.dsn, "--json", *MAINTENANCE[name]]
        start = time.monotonic()
        try:
            done = subprocess.run(
                args,
                capture_output=True,
                timeout=self.cfg.maintenance_timeout,
                stdin=subprocess.DEVNULL,
                cwd=ROOT,
                env=ENV,
            )
            code: int | None = done.returncode
            stderr = (done.stderr or b"").decode(errors="replace")
            stdout = (done.stdout or b"").decode(errors="replace")
        except subprocess.TimeoutExpired as expired:
            code, stdout = None, ""
            stderr = f"timed out after {self.cfg.maintenance_timeout}s; " + (
                (expired.stderr or b"").decode(errors="replace")
            )
        end = time.monotonic()
        detail = "" if code == 0 else (stderr.strip() or stdout.strip())[-1500:]
        return MaintenanceRun(name, start, end, code, stderr=detail)

    def mark_hits(self) -> None:
        for run in self.maintenance:
            run.faults = [f.kind for f in self.faults if f.start <= run.end and f.end >= run.start]

    # -- the run -------------------------------------------------------------------------------

    def run(self, before_checks: Callable[[Harness], None] | None = None) -> dict[str, Any]:
        """The whole run; `before_checks(harness)` runs once the writers stopped (the checks'
        own test uses it to break things on purpose)."""
        started = time.monotonic()
        self.server.init()
        self.server.start()
        self.server.create_database()
        install_schema(self.server.dsn)
        pool = WriterPool(self)
        try:
            for w in range(self.cfg.writers):
                pool.start(w)
            self.t0 = time.monotonic()
            stop = threading.Event()
            maint = threading.Thread(target=self.maintain, args=(stop,), daemon=True)
            if self.cfg.maintenance:
                maint.start()
            for at, kind in self.schedule():
                delay = self.t0 + at - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                self.inject(kind, pool)
            rest = self.t0 + self.cfg.seconds - time.monotonic()
            if rest > 0:
                time.sleep(rest)
            stop.set()
            if self.cfg.maintenance:
                maint.join(self.cfg.maintenance_timeout + 10)
            self.server.wait_ready()
            hung = pool.stop_all(timeout=60)
            writers_done = time.monotonic()
            if before_checks is not None:
                before_checks(self)
            final_verify = self.run_cli("projections verify")
            self.mark_hits()
            summary = self.check(pool, hung, final_verify)
            summary["timing_s"] = {
                "under_faults": round(writers_done - self.t0, 1),
                "total": round(time.monotonic() - started, 1),
            }
            (self.work / "summary.json").write_bytes(
                orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str)
            )
            return summary
        finally:
            for proc in pool.procs.values():
                if proc.poll() is None:
                    proc.kill()
            self.server.stop()
            if not self.cfg.keep and not self.cfg.workdir:
                shutil.rmtree(self.work, ignore_errors=True)

    # -- checks and summary --------------------------------------------------------------------

    def check(
        self, pool: WriterPool, hung: list[str], final_verify: MaintenanceRun
    ) -> dict[str, Any]:
        j = checks.Journals.load(self.journals.glob("*.jsonl"))
        f = checks.Findings()
        stored = checks.read_store(self.server.dsn)

        def guarded(check: Any, *args: Any) -> None:
            try:
                check(*args)
            except Exception as error:  # a crash of the checks is the harness's bug: say so
                f.add(
                    "other",
                    f"{check.__name__} ran (harness)",
                    None,
                    f"{error!r}",
                    traceback=traceback.format_exc()[-3000:],
                )

        guarded(checks.fold_streams, stored, f)
        guarded(checks.check_routes, stored, f)
        guarded(checks.check_acknowledged, j, stored, f)
        guarded(checks.check_linearizable, j, f)
        guarded(checks.check_attribution, j, stored, f)
        with ScriptsModule.open(self.server.dsn, install=False) as module:
            guarded(checks.check_current, module, j, stored, f)
            guarded(checks.check_replays, module, self.server.dsn, j, f)
        for record in j.nonlib:
            f.add(
                "nonlib",
                "no error outside scripts_es.errors",
                None,
                f"{record['type']}: {record['message'][:300]}",
                writer=record["w"],
                kind=record["kind"],
                command=record.get("command"),
                traceback=record.get("traceback", "")[-1500:],
            )
        for record in j.harness:
            f.add(
                "other",
                "the writer ran cleanly (harness)",
                None,
                f"{record['error']}",
                writer=record["w"],
                traceback=record.get("traceback"),
            )
        for cid in j.duplicate_ids:
            f.add("other", "command_ids are fresh (harness)", None, cid)
        for name in hung:
            f.add("other", "writers stop when asked", None, f"{name} had to be killed")
        for name, code in pool.exits:
            if code not in (0, -9):
                f.add("other", "writers exit cleanly", None, f"{name} exited {code}")
        for fault in self.faults:
            if fault.error:
                f.add(
                    "other", "faults are injected (harness)", None, f"{fault.kind}: {fault.error}"
                )
        if final_verify.exit_code != 0:
            f.add(
                "other",
                "projections verify exits 0 at the end",
                None,
                f"exit {final_verify.exit_code}: {final_verify.stderr}",
            )
        for run in self.maintenance:
            if run.exit_code != 0 and not (run.hit and run.outage_failure):
                f.add(
                    "other",
                    "maintenance exits 0 unless a fault hit it (and then only as an outage)",
                    None,
                    f"{run.name} exit {run.exit_code} at t={run.start - self.t0:.1f}s "
                    f"(overlapped {run.faults or 'no fault'}): {run.stderr}",
                )
        return self.summary(j, f, stored, pool, final_verify)

    def summary(
        self,
        j: checks.Journals,
        f: checks.Findings,
        stored: checks.Stored,
        pool: WriterPool,
        final_verify: MaintenanceRun,
    ) -> dict[str, Any]:
        maintenance: dict[str, Any] = {}
        for run in self.maintenance:
            m = maintenance.setdefault(
                run.name,
                {
                    "runs": 0,
                    "exit_codes": Counter(),
                    "hit_by_fault": 0,
                    "hit_exit_codes": Counter(),
                    "hit_outage_failures": 0,
                    "unhit_exit_codes": Counter(),
                },
            )
            m["runs"] += 1
            m["exit_codes"][str(run.exit_code)] += 1
            if run.hit:
                m["hit_by_fault"] += 1
                m["hit_exit_codes"][str(run.exit_code)] += 1
                m["hit_outage_failures"] += int(run.outage_failure)
            else:
                m["unhit_exit_codes"][str(run.exit_code)] += 1
        for m in maintenance.values():
            for key in ("exit_codes", "hit_exit_codes", "unhit_exit_codes"):
                m[key] = dict(m[key])
        kinds = Counter(a["kind"] for a in j.acks.values())
        streams_bad = {v["stream"] for v in f.corrupted if v["stream"]}
        every = [
            {"bucket": bucket, **v}
            for bucket in ("lost", "duplicated", "stale", "corrupted", "phantom", "nonlib", "other")
            for v in getattr(f, bucket)
        ]
        shown = [self.with_timeline(v, j) for v in every[: self.cfg.max_violations]]
        summary = {
            "config": {**asdict(self.cfg), "seed": self.seed, "run_id": self.run_id},
            "code": code_version(),
            "commands": {
                "sent": len(j.sends),
                "acknowledged": len(j.acks),
                "acknowledged_by_kind": dict(sorted(kinds.items())),
                "acknowledged_after_retry": sum(1 for a in j.acks.values() if a["attempts"] > 1),
                "library_errors": dict(j.errors.most_common()),
                "storage_unavailable_retried": j.unavailable,
                "gave_up_in_doubt": len(j.gave_up),
                "replayed": f.replayed,
                "acknowledged_below_a_horizon": f.pruned_present,
                "unverifiable_without_tombstones": f.unverifiable,
                "streams_at_their_last_acknowledgement": f.current_is_last_ack,
                "streams_with_unacknowledged_commits_after_it": f.written_after_last_ack,
            },
            "store": {**stored.totals, "streams": len(stored.streams)},
            "writers_started": pool.started,
            "faults": dict(Counter(x.kind for x in self.faults)),
            "restarts_with_downtime": sum(1 for x in self.faults if "down" in x.detail),
            "fault_log": [
                {
                    "kind": x.kind,
                    "t": round(x.start - self.t0, 2),
                    "took_s": round(x.end - x.start, 2),
                    "detail": x.detail,
                    "error": x.error,
                }
                for x in self.faults
            ],
            "maintenance": maintenance,
            "maintenance_log": [
                {
                    "name": r.name,
                    "t": round(r.start - self.t0, 2),
                    "took_s": round(r.end - r.start, 2),
                    "exit_code": r.exit_code,
                    "overlapped": r.faults,
                    **({"stderr": r.stderr[-600:]} if r.exit_code != 0 else {}),
                }
                for r in self.maintenance
            ],
            "final_verify_exit_code": final_verify.exit_code,
            "lost": len(f.lost),
            "duplicated": len(f.duplicated),
            "stale_acknowledgements": len(f.stale),
            "corrupted_streams": len(streams_bad) + sum(1 for v in f.corrupted if not v["stream"]),
            "phantom_events": len(f.phantom),
            "non_library_errors": len(f.nonlib),
            "other_violations": len(f.other),
            "violations_by_check": dict(
                Counter(f"{v['bucket']}: {v['check']}" for v in every).most_common()
            ),
            "violations": shown,
            "violations_not_shown": len(every) - len(shown),
        }
        summary["ok"] = not every
        return summary

    def with_timeline(self, v: dict[str, Any], j: checks.Journals) -> dict[str, Any]:
        """A violation with what the journals, faults and maintenance say about its stream."""
        stream, cid = v.get("stream"), v.get("command_id")
        if not stream and not cid:
            return v
        events = []
        for r in j.records:
            if r["t"] not in ("send", "ack", "err", "gave_up", "unavailable"):
                continue
            if r.get("aggregate") != stream and r.get("command_id") != cid:
                continue
            events.append(
                {
                    "t": round(r["ts"] - self.t0, 3),
                    "w": r["w"],
                    "what": r["t"],
                    "kind": r.get("kind"),
                    "id": (r.get("command_id") or "")[:8],
                    **({"version": r["version"]} if "version" in r else {}),
                    **({"error": r["error"]} if "error" in r else {}),
                    **({"attempts": r["attempts"]} if r.get("attempts", 1) > 1 else {}),
                }
            )
        if cid and cid in j.acks:
            around = j.acks[cid]["ts"]
            lo, hi = j.acks[cid]["sent"] - 3.0, around + 1.0
        elif events:
            lo, hi = events[-1]["t"] + self.t0 - 5.0, events[-1]["t"] + self.t0 + 1.0
        else:
            lo, hi = self.t0, self.t0 + self.cfg.seconds
        for x in self.faults:
            if lo <= x.start <= hi:
                events.append(
                    {
                        "t": round(x.start - self.t0, 3),
                        "what": "fault",
                        "kind": x.kind,
                        "detail": x.detail,
                    }
                )
        for run in self.maintenance:
            if run.start <= hi and run.end >= lo:
                events.append(
                    {
                        "t": round(run.start - self.t0, 3),
                        "what": "maintenance",
                        "kind": run.name,
                        "until": round(run.end - self.t0, 3),
                        "exit": run.exit_code,
                    }
                )
        events.sort(key=lambda e: e["t"])
        return {**v, "timeline": events[-60:]}


def code_version() -> str:
    """The commit under test, and whether the code differs from it (or "unknown")."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "scripts_es", "projections", "schema.sql"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return f"{head}{' + uncommitted changes' if dirty else ''}"


def run(
    cfg: HarnessConfig, before_checks: Callable[[Harness], None] | None = None
) -> dict[str, Any]:
    return Harness(cfg).run(before_checks)


ZEROS = (
    "lost",
    "duplicated",
    "stale_acknowledgements",
    "corrupted_streams",
    "phantom_events",
    "non_library_errors",
    "other_violations",
)

"""The end checks of the fault harness: the journals against what the database really holds.

Run after the faults stopped, the writers exited and the server is healthy. Everything here reads
the database as the superuser (row-level security does not apply), decodes and folds the streams
itself with the domain's own fold, and only then asks the module (replays, current state).

Violations are collected as dicts with a `check`, the `stream`, a `detail` and, where it helps,
the `command_id` of the acknowledged command concerned.
"""

from __future__ import annotations

import bisect
import re
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import psycopg
from eventsourcing.persistence import StoredEvent

from scripts_es import ScriptsModule
from scripts_es import commands as c
from scripts_es.domain import execution as execution_fold
from scripts_es.domain import script as script_fold
from scripts_es.errors import NotFound, ScriptsError
from scripts_es.store.mapper import PydanticMapper
from tests.reliability import journal as jn

MARKER = re.compile(rb"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])")

# The event a command that carries a marker produces, by command kind.
MARKED_TOPIC = {
    "CreateScript": "ScriptCreated",
    "UpdateScriptContent": "ScriptContentUpdated",
    "ChangeScriptMetadata": "ScriptMetadataChanged",
    "ChangeScriptDetails": "ScriptDetailsChanged",
    "StartExecution": "ExecutionStarted",
    "EnqueueExecution": "ExecutionQueued",
    "CompleteExecution": "ExecutionCompleted",
}
# The command kind that can produce an event, by event name (ExecutionStarted at version > 1
# is a BeginExecution).
PRODUCER = {
    "ScriptCreated": "CreateScript",
    "ScriptContentUpdated": "UpdateScriptContent",
    "ScriptMetadataChanged": "ChangeScriptMetadata",
    "ScriptDetailsChanged": "ChangeScriptDetails",
    "ScriptEnabled": "EnableScript",
    "ScriptDisabled": "DisableScript",
    "ScriptDeleted": "DeleteScript",
    "ExecutionQueued": "EnqueueExecution",
    "ExecutionStarted": "StartExecution",
    "ExecutionCompleted": "CompleteExecution",
}
SCRIPT_EVENTS = {k for k in PRODUCER if k.startswith("Script")}


def event_name(topic: str) -> str:
    return topic.rpartition(":")[2].rpartition(".")[2]


# -- journals ------------------------------------------------------------------------------------


@dataclass
class Journals:
    sends: dict[str, dict[str, Any]] = field(default_factory=dict)
    acks: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    gave_up: list[dict[str, Any]] = field(default_factory=list)
    unavailable: int = 0  # StorageUnavailable raised to a writer (then retried, same command_id)
    nonlib: list[dict[str, Any]] = field(default_factory=list)
    harness: list[dict[str, Any]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # every line, with `w`
    duplicate_ids: list[str] = field(default_factory=list)

    @classmethod
    def load(cls, paths: Iterable[Path]) -> Journals:
        j = cls()
        for path in sorted(paths):
            name = path.stem
            for record in jn.read(path):
                record["w"] = name
                j.records.append(record)
                t = record["t"]
                if t == "send":
                    if record["command_id"] in j.sends:
                        j.duplicate_ids.append(record["command_id"])
                    j.sends[record["command_id"]] = record
                elif t == "ack":
                    j.acks[record["command_id"]] = record
                elif t == "err":
                    j.errors[f"{record['kind']}: {record['error']}"] += 1
                elif t == "unavailable":
                    j.unavailable += 1
                elif t == "gave_up":
                    j.gave_up.append(record)
                elif t == "nonlib":
                    j.nonlib.append(record)
                elif t == "harness":
                    j.harness.append(record)
        j.records.sort(key=lambda r: r["ts"])
        return j


# -- the database, as stored ---------------------------------------------------------------------


@dataclass
class Stream:
    tenant: str
    id: str
    events: dict[int, tuple[str, bytes]] = field(default_factory=dict)  # version -> (name, state)
    topics: dict[int, str] = field(default_factory=dict)
    snapshots: dict[int, tuple[str, bytes]] = field(default_factory=dict)
    tombstone: int | None = None
    horizons: list[int] = field(default_factory=list)  # prune_audit horizons (scripts)
    audits: list[tuple[int, int]] = field(default_factory=list)  # (horizon, removed)
    states: dict[int, Any] = field(default_factory=dict)  # version -> folded state (JSON)
    final: Any = None  # the folded state at the head (domain object)

    @property
    def is_script(self) -> bool:
        names = {n for n, _ in self.events.values()} | {
            event_name(t) for t, _ in self.snapshots.values()
        }
        return (
            bool(names & SCRIPT_EVENTS) or any(n == "Script" for n in names) or bool(self.horizons)
        )

    @property
    def floor(self) -> int | None:
        return min(self.events) if self.events else None

    @property
    def head(self) -> int | None:
        candidates = [*self.events, *self.snapshots]
        if self.tombstone is not None:
            candidates.append(self.tombstone)
        return max(candidates) if candidates else None


@dataclass
class Stored:
    streams: dict[str, Stream]
    commands: dict[tuple[str, str], tuple[str, str]]  # (tenant, command_id) -> (kind, digest)
    scripts_rows: dict[str, int]  # read model: script id -> version
    execution_rows: dict[str, int]
    routes: set[tuple[str, str, str, str]]  # (tenant, method, path, script id)
    totals: dict[str, int]
    tombstones: bool = True  # False before schema 0002: a removed execution leaves no trace


def read_store(dsn: str) -> Stored:
    streams: dict[str, Stream] = {}

    def stream(tenant: Any, sid: Any) -> Stream:
        key = str(sid)
        if key not in streams:
            streams[key] = Stream(str(tenant), key)
        return streams[key]

    with psycopg.connect(dsn) as conn:
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for tenant, sid, version, topic, state in conn.execute(
            "SELECT tenant_id, originator_id, originator_version, topic, state"
            " FROM scripts_es.events"
        ):
            st = stream(tenant, sid)
            st.events[version] = (event_name(topic), bytes(state))
            st.topics[version] = topic
        for tenant, sid, version, topic, state in conn.execute(
            "SELECT tenant_id, originator_id, originator_version, topic, state"
            " FROM scripts_es.snapshots"
        ):
            stream(tenant, sid).snapshots[version] = (topic, bytes(state))
        has_tombstones = conn.execute(
            "SELECT to_regclass('scripts_es.stream_tombstones') IS NOT NULL"
        ).fetchone()
        if has_tombstones and has_tombstones[0]:  # schema 0002 on
            for tenant, sid, version in conn.execute(
                "SELECT tenant_id, stream_id, version FROM scripts_es.stream_tombstones"
            ):
                stream(tenant, sid).tombstone = version
        for tenant, sid, horizon, removed in conn.execute(
            "SELECT tenant_id, script_id, horizon, removed FROM scripts_es.prune_audit ORDER BY id"
        ):
            s = stream(tenant, sid)
            s.horizons.append(horizon)
            s.audits.append((horizon, removed))
        commands = {
            (str(tenant), str(cid)): (kind, jn.digest(orjson.loads(bytes(result))))
            for tenant, cid, kind, result in conn.execute(
                "SELECT tenant_id, command_id, kind, result FROM scripts_es.commands"
            )
        }
        scripts_rows = {
            str(i): v for i, v in conn.execute("SELECT id, version FROM scripts_es.scripts")
        }
        execution_rows = {
            str(i): v for i, v in conn.execute("SELECT id, version FROM scripts_es.executions")
        }
        routes = {
            (str(t), m, p, str(s))
            for t, m, p, s in conn.execute(
                "SELECT tenant_id, method, path, script_id FROM scripts_es.script_routes"
            )
        }
        conn.rollback()
    tombstones = bool(has_tombstones and has_tombstones[0])
    return Stored(streams, commands, scripts_rows, execution_rows, routes, totals(dsn), tombstones)


def totals(dsn: str) -> dict[str, int]:
    """What would change if anything wrote: row counts and the newest event position."""
    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT (SELECT count(*) FROM scripts_es.events),"
            " (SELECT coalesce(max(notification_id), 0) FROM scripts_es.events),"
            " (SELECT count(*) FROM scripts_es.snapshots),"
            " (SELECT count(*) FROM scripts_es.prune_audit),"
            " (SELECT count(*) FROM scripts_es.commands)"
        ).fetchone()
    assert row is not None
    return dict(
        zip(("events", "max_position", "snapshots", "prunes", "commands"), row, strict=True)
    )


# -- checks --------------------------------------------------------------------------------------


@dataclass
class Findings:
    lost: list[dict[str, Any]] = field(default_factory=list)
    duplicated: list[dict[str, Any]] = field(default_factory=list)
    stale: list[dict[str, Any]] = field(default_factory=list)
    corrupted: list[dict[str, Any]] = field(default_factory=list)
    phantom: list[dict[str, Any]] = field(default_factory=list)
    nonlib: list[dict[str, Any]] = field(default_factory=list)
    other: list[dict[str, Any]] = field(default_factory=list)
    pruned_present: int = 0  # acknowledged versions below a stream's floor (present by horizon)
    replayed: int = 0
    unverifiable: int = 0  # schemas before 0002 only: executions gone without a tombstone
    current_is_last_ack: int = 0  # streams whose current state is their last acknowledgement
    written_after_last_ack: int = 0  # streams with unacknowledged commits after it

    def add(self, bucket: str, check: str, stream: str | None, detail: str, **extra: Any) -> None:
        getattr(self, bucket).append({"check": check, "stream": stream, "detail": detail, **extra})


mapper = PydanticMapper()


def fold_streams(stored: Stored, f: Findings) -> None:
    """Structure of every stream, and its state at every retained version, by our own fold."""
    for s in stored.streams.values():
        versions = sorted(s.events)
        script = s.is_script
        horizon = max(s.horizons, default=1)
        if versions and versions != list(range(versions[0], versions[-1] + 1)):
            missing = sorted(set(range(versions[0], versions[-1] + 1)) - set(versions))
            f.add("corrupted", "versions contiguous", s.id, f"gaps at {missing[:10]}")
        if versions and versions[0] < horizon:
            below = [v for v in versions if v < horizon]
            f.add(
                "corrupted",
                "no events below the horizon",
                s.id,
                f"horizon {horizon} (prune_audit), events at {below[:10]}",
            )
        low_snaps = [v for v in s.snapshots if v < horizon]
        if low_snaps:
            f.add(
                "corrupted",
                "no snapshots below the horizon",
                s.id,
                f"horizon {horizon}, snapshots at {sorted(low_snaps)}",
            )
        if versions and any(v > versions[-1] for v in s.snapshots):
            f.add(
                "corrupted",
                "no snapshot above the head",
                s.id,
                f"head {versions[-1]}, snapshots {sorted(s.snapshots)}",
            )
        if s.tombstone is not None and versions:
            f.add(
                "corrupted",
                "removed stream stays removed",
                s.id,
                f"tombstone at {s.tombstone} but events {versions[:5]}...",
            )
        if not versions:
            if s.snapshots and s.tombstone is None:
                f.add("corrupted", "snapshot without events", s.id, f"{sorted(s.snapshots)}")
            continue
        for v in versions:
            name = s.events[v][0]
            if name in ("ScriptCreated", "ExecutionQueued") and v != 1:
                f.add("corrupted", "created once, at version 1", s.id, f"{name} at version {v}")
            if name == "ExecutionStarted" and v not in (1, 2):
                f.add("corrupted", "started at version 1 or 2", s.id, f"{name} at version {v}")
        deleted = [v for v in versions if s.events[v][0] == "ScriptDeleted"]
        if deleted and deleted[0] != versions[-1]:
            f.add(
                "corrupted",
                "nothing after ScriptDeleted",
                s.id,
                f"deleted at {deleted[0]}, head {versions[-1]}",
            )
        # Fold from version 1, or from the snapshot that seeds the floor.
        state: Any = None
        start = versions[0]
        if start > 1:
            seeds = [v for v in s.snapshots if start - 1 <= v <= versions[-1]]
            if not seeds:
                f.add(
                    "corrupted",
                    "a snapshot seeds a pruned stream",
                    s.id,
                    f"floor {start}, snapshots {sorted(s.snapshots)}",
                )
                continue
            seed = min(seeds)
            topic, data = s.snapshots[seed]
            try:
                state = mapper.from_snapshot(StoredEvent(uuid.UUID(s.id), seed, topic, data))
            except Exception as error:
                f.add("corrupted", "snapshot decodes", s.id, f"@{seed}: {error!r}")
                continue
            s.states[seed] = state.model_dump(mode="json")
            start = seed + 1
        apply = script_fold.apply if script else execution_fold.apply
        for v in range(start, versions[-1] + 1):
            if v not in s.events:  # a gap, reported above: later states are unknown
                state = None
                break
            name, data = s.events[v]
            topic = s.topics[v]
            try:
                event = mapper.to_domain_event(StoredEvent(uuid.UUID(s.id), v, topic, data))
                state = apply(state, event)
            except Exception as error:
                f.add("corrupted", "stream folds", s.id, f"at version {v} ({name}): {error!r}")
                state = None
                break
            s.states[v] = state.model_dump(mode="json")
        s.final = state
        if state is not None:
            rows = stored.scripts_rows if script else stored.execution_rows
            live = not getattr(state, "is_deleted", False)
            row = rows.get(s.id)
            if live and row is None:
                f.add(
                    "corrupted",
                    "read model has every live stream",
                    s.id,
                    f"no row; stream at {state.version}",
                )
            elif row is not None and row != state.version:
                f.add(
                    "corrupted",
                    "read model at the stream head",
                    s.id,
                    f"row at version {row}, stream at {state.version}",
                )
            elif not live and row is not None:
                f.add(
                    "corrupted",
                    "deleted script gone from the read model",
                    s.id,
                    f"row at version {row}",
                )


def check_routes(stored: Stored, f: Findings) -> None:
    live: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    for s in stored.streams.values():
        state = s.final
        if (
            isinstance(state, script_fold.Script)
            and not state.is_deleted
            and state.type.value == "http"
        ):
            md = state.metadata
            live[(s.tenant, md.method, md.path)].append(s.id)  # type: ignore[union-attr]
    for (tenant, method, path), ids in live.items():
        if len(ids) > 1:
            f.add(
                "corrupted",
                "one live script per route",
                ids[0],
                f"{method} {path} in tenant {tenant} held by {ids}",
            )
    expected = {(t, m, p, i[0]) for (t, m, p), i in live.items()}
    for route in stored.routes ^ expected:
        side = "stale row in script_routes" if route in stored.routes else "route row missing"
        f.add(
            "corrupted",
            "script_routes matches the live http scripts",
            route[3],
            f"{side}: {route[1]} {route[2]}",
        )


def marker_index(stored: Stored) -> dict[tuple[str, str], list[tuple[str, int]]]:
    """(marker, event name) -> [(stream, version)] over every stored event."""
    index: dict[tuple[str, str], list[tuple[str, int]]] = defaultdict(list)
    for s in stored.streams.values():
        for v, (name, data) in s.events.items():
            for m in set(MARKER.findall(data)):
                index[(m.decode(), name)].append((s.id, v))
    return index


def check_acknowledged(j: Journals, stored: Stored, f: Findings) -> None:
    index = marker_index(stored)
    for cid, ack in j.acks.items():
        kind, sid, v = ack["kind"], ack["aggregate"], ack["version"]
        s = stored.streams.get(sid)
        base = {"command_id": cid, "kind": kind, "version": v, "writer": ack["w"]}
        logged = stored.commands.get((ack["tenant"], cid))
        if logged is None or logged[1] != ack["digest"]:
            base["command_log"] = "missing" if logged is None else "different result"
        if (s is None or s.head is None) and not stored.tombstones and "Execution" in kind:
            f.unverifiable += 1  # old schema: removed by execution retention, or lost
            continue
        if s is None or s.head is None:
            f.add(
                "lost",
                "acknowledged stream exists",
                sid,
                "no events, snapshot or tombstone",
                **base,
            )
            continue
        if kind == "PruneScriptHistory":
            want = (v, ack["result"]["removed"])
            if want not in s.audits:
                f.add(
                    "lost",
                    "acknowledged prune audited",
                    sid,
                    f"no prune_audit row with horizon/removed {want}; rows {s.audits}",
                    **base,
                )
            if s.head < v:
                f.add(
                    "lost",
                    "head at or above the acknowledged horizon",
                    sid,
                    f"head {s.head} < horizon {v}",
                    **base,
                )
            continue
        if s.head < v:
            f.add(
                "lost",
                "head at or above every acknowledged version",
                sid,
                f"head {s.head} < acknowledged version {v}",
                **base,
            )
            continue
        marker = ack.get("marker")
        topic = MARKED_TOPIC.get(kind) if marker else None
        hits = index.get((marker, topic), []) if marker and topic else []
        floor = s.floor
        if floor is None or v < floor:
            f.pruned_present += 1
            if hits:
                f.add(
                    "duplicated",
                    "an acknowledged command's event appears once",
                    sid,
                    f"its version {v} was pruned (floor {floor}) yet {topic} with its marker "
                    f"is at {hits}",
                    **base,
                )
            continue
        if v not in s.events:
            f.add(
                "lost",
                "acknowledged event at the version its result names",
                sid,
                f"no event at version {v} (floor {floor}, head {s.head})",
                **base,
            )
            continue
        name = s.events[v][0]
        if topic is not None:
            if (sid, v) not in hits:
                f.add(
                    "lost",
                    "acknowledged event at the version its result names",
                    sid,
                    f"event {v} is {name} without this command's marker; marker at {hits}",
                    **base,
                )
            if len(hits) > 1:
                f.add(
                    "duplicated",
                    "an acknowledged command's event appears once",
                    sid,
                    f"{topic} with its marker at {hits}",
                    **base,
                )
        state = s.states.get(v)
        if state is not None and state != ack["result"]:
            diff = sorted(
                k for k in set(state) | set(ack["result"]) if state.get(k) != ack["result"].get(k)
            )
            f.add(
                "stale",
                "acknowledged result is the stored state at its version",
                sid,
                f"fields differ: {diff}; stored {[state.get(k) for k in diff]!s:.300} "
                f"acknowledged {[ack['result'].get(k) for k in diff]!s:.300}",
                **base,
            )


def check_linearizable(j: Journals, f: Findings) -> None:
    """No acknowledged answer older than one acknowledged before the command was sent."""
    by_aggregate: dict[str, list[tuple[float, int, str]]] = defaultdict(list)
    for cid, ack in j.acks.items():
        by_aggregate[ack["aggregate"]].append((ack["ts"], ack["version"], cid))
    prefix: dict[str, tuple[list[float], list[int], list[str]]] = {}
    for agg, items in by_aggregate.items():
        items.sort()
        times, best, who = [], [], []
        top, top_cid = 0, ""
        for ts, v, cid in items:
            if v > top:
                top, top_cid = v, cid
            times.append(ts)
            best.append(top)
            who.append(top_cid)
        prefix[agg] = (times, best, who)

    def seen_before(agg: str, ts: float) -> tuple[int, str]:
        if agg not in prefix:
            return 0, ""
        times, best, who = prefix[agg]
        i = bisect.bisect_left(times, ts) - 1
        return (best[i], who[i]) if i >= 0 else (0, "")

    for cid, ack in j.acks.items():
        if ack["kind"] == "PruneScriptHistory":
            continue  # a horizon is not the head
        sent = ack["sent"]
        top, by = seen_before(ack["aggregate"], sent)
        if top > ack["version"]:
            f.add(
                "stale",
                "no answer older than an earlier acknowledgement",
                ack["aggregate"],
                f"{ack['kind']} answered version {ack['version']} but {by} had acknowledged "
                f"version {top} before this command was sent",
                command_id=cid,
                kind=ack["kind"],
                version=ack["version"],
                writer=ack["w"],
            )
        if ack["kind"] in ("StartExecution", "EnqueueExecution"):
            script = ack["result"]["script_id"]
            top, by = seen_before(script, sent)
            if top > ack["result"]["script_version"]:
                f.add(
                    "stale",
                    "an execution runs a script version no older than acknowledged",
                    ack["aggregate"],
                    f"runs script {script} at version "
                    f"{ack['result']['script_version']} but {by} had acknowledged version "
                    f"{top} before",
                    command_id=cid,
                    kind=ack["kind"],
                    writer=ack["w"],
                )


def check_attribution(j: Journals, stored: Stored, f: Findings) -> None:
    """Every stored event comes from a command some writer sent (no phantom writes)."""
    by_marker = {s["marker"]: s for s in j.sends.values() if s.get("marker")}
    kinds_on: dict[str, set[str]] = defaultdict(set)
    for send in j.sends.values():
        if send.get("aggregate"):
            kinds_on[send["aggregate"]].add(send["kind"])
    for ack in j.acks.values():
        kinds_on[ack["aggregate"]].add(ack["kind"])
    for s in stored.streams.values():
        for v, (name, data) in s.events.items():
            producer = PRODUCER.get(name, "?")
            if name == "ExecutionStarted" and v > 1:
                producer = "BeginExecution"
            markers = [m.decode() for m in set(MARKER.findall(data))]
            own = [
                m
                for m in markers
                if m in by_marker and MARKED_TOPIC.get(by_marker[m]["kind"]) == name
            ]
            if own:
                send = by_marker[own[0]]
                if send.get("aggregate") not in (None, s.id):
                    f.add(
                        "phantom",
                        "events land in the stream their command named",
                        s.id,
                        f"{name}@{v} carries the marker of {send['command_id']} sent for "
                        f"{send['aggregate']}",
                    )
                continue
            if producer not in kinds_on.get(s.id, set()):
                f.add(
                    "phantom",
                    "every event comes from a command sent",
                    s.id,
                    f"{name}@{v}: no {producer} was sent for this stream",
                )


def check_current(module: ScriptsModule, j: Journals, stored: Stored, f: Findings) -> None:
    """What the module returns now is the fold of each stream (and so of its acknowledged
    history, as far as the acknowledgements reach)."""
    users = {a["tenant"]: a["user"] for a in j.acks.values()}
    last: dict[str, dict[str, Any]] = {}
    for a in j.acks.values():
        if a["kind"] != "PruneScriptHistory" and (
            a["aggregate"] not in last or a["version"] > last[a["aggregate"]]["version"]
        ):
            last[a["aggregate"]] = a
    for s in stored.streams.values():
        if s.final is None or s.tenant not in users:
            continue
        t = module.tenant(uuid.UUID(s.tenant), uuid.UUID(users[s.tenant]))
        script = isinstance(s.final, script_fold.Script)
        try:
            if script:
                current: Any = t.scripts.find_by_id(uuid.UUID(s.id))
            else:
                current = t.executions.find_by_id(uuid.UUID(s.id))
        except NotFound:
            if script and s.final.is_deleted:
                continue
            f.add(
                "corrupted",
                "the module returns every live stream",
                s.id,
                f"NotFound, stream at {s.final.version}",
            )
            continue
        except ScriptsError as error:
            f.add("other", "current state readable", s.id, repr(error))
            continue
        except Exception as error:
            f.add("nonlib", "current state readable", s.id, repr(error))
            continue
        if script and s.final.is_deleted:
            f.add("corrupted", "a deleted script is gone", s.id, f"returned at {current.version}")
            continue
        mine, theirs = s.final.model_dump(mode="json"), current.model_dump(mode="json")
        if mine != theirs:
            diff = sorted(k for k in mine if mine[k] != theirs.get(k))
            f.add(
                "corrupted",
                "current state is the fold of the stream",
                s.id,
                f"fields differ: {diff}",
            )
        ack = last.get(s.id)
        if ack is None:
            continue
        if current.version == ack["version"]:
            # Nothing was written after the last acknowledgement: the state is exactly it.
            f.current_is_last_ack += 1
            if theirs != ack["result"]:
                diff = sorted(k for k in theirs if theirs[k] != ack["result"].get(k))
                f.add(
                    "stale",
                    "current state is the last acknowledged result",
                    s.id,
                    f"fields differ: {diff}",
                    command_id=ack["command_id"],
                    kind=ack["kind"],
                    version=ack["version"],
                    writer=ack["w"],
                )
        elif current.version > ack["version"]:
            f.written_after_last_ack += 1  # commands in doubt (killed writers) that committed


def check_replays(module: ScriptsModule, dsn: str, j: Journals, f: Findings) -> dict[str, int]:
    """Handle every acknowledged command again, same command_id: the same result, no write."""
    before = totals(dsn)
    for cid, ack in sorted(j.acks.items(), key=lambda kv: kv[1]["ts"]):
        send = j.sends.get(cid)
        if send is None:
            f.add("other", "every ack has its send", ack["aggregate"], cid)
            continue
        cmd = getattr(c, ack["kind"]).model_validate(send["command"])
        t = module.tenant(uuid.UUID(ack["tenant"]), uuid.UUID(ack["user"]))
        f.replayed += 1
        base = {
            "command_id": cid,
            "kind": ack["kind"],
            "version": ack["version"],
            "writer": ack["w"],
        }
        try:
            result = t.handle(cmd)
        except ScriptsError as error:
            f.add(
                "stale",
                "a replay returns the acknowledged result",
                ack["aggregate"],
                f"replay raised {error!r}",
                **base,
            )
            continue
        except Exception as error:
            f.add(
                "nonlib",
                "a replay returns the acknowledged result",
                ack["aggregate"],
                f"replay raised {type(error).__name__}: {error}",
                **base,
            )
            continue
        data = result.model_dump(mode="json")
        if jn.digest(data) != ack["digest"]:
            diff = sorted(k for k in data if data[k] != ack["result"].get(k))
            f.add(
                "stale",
                "a replay returns the acknowledged result",
                ack["aggregate"],
                f"fields differ: {diff}; replay {[data[k] for k in diff]!s:.300} "
                f"acknowledged {[ack['result'].get(k) for k in diff]!s:.300}",
                **base,
            )
    after = totals(dsn)
    if after != before:
        f.add("stale", "replays write nothing", None, f"before {before}, after {after}")
    return after

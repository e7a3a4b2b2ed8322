"""The harness's checks catch what they claim to: a clean run, then the store broken on purpose.

A fault harness that reports zeros proves something only if it would report the violations it
looks for. Two writers run briefly without faults; then, before the checks, the database is
tampered with as the superuser: an acknowledged event rewritten (lost), an acknowledged event
stored twice (duplicated), a command log entry changed (stale replay), an event put below a prune
horizon, an event that no writer sent. Each must be reported, on the right stream and command.
"""

from __future__ import annotations

import uuid
from typing import Any

import psycopg

from tests.reliability import checks
from tests.reliability.harness import Harness, HarnessConfig, run


def _acks(h: Harness) -> list[dict[str, Any]]:
    j = checks.Journals.load(h.journals.glob("*.jsonl"))
    return sorted(j.acks.values(), key=lambda a: a["ts"])


def test_a_clean_run_reports_nothing_and_every_kind_of_tampering_is_reported() -> None:
    chosen: dict[str, Any] = {}

    def tamper(h: Harness) -> None:
        acks = _acks(h)
        with psycopg.connect(h.server.dsn, autocommit=True) as conn:

            def event(stream: str, version: int) -> tuple[Any, ...] | None:
                return conn.execute(
                    "SELECT tenant_id, topic, state FROM scripts_es.events"
                    " WHERE originator_id = %s AND originator_version = %s",
                    (stream, version),
                ).fetchone()

            def head(stream: str) -> int:
                row = conn.execute(
                    "SELECT max(originator_version), min(originator_version)"
                    " FROM scripts_es.events WHERE originator_id = %s",
                    (stream,),
                ).fetchone()
                return int(row[0]) if row and row[0] else 0

            used: set[str] = set()

            def live(stream: str) -> bool:
                return bool(
                    conn.execute(
                        "SELECT 1 FROM scripts_es.scripts WHERE id = %s", (stream,)
                    ).fetchall()
                )

            def pick(kind: str, *, marked: bool = True, pruned: bool = False) -> dict[str, Any]:
                for a in acks:
                    if a["kind"] != kind or a["aggregate"] in used or (marked and not a["marker"]):
                        continue
                    row = event(a["aggregate"], a["version"])
                    if row is None or (marked and a["marker"] not in bytes(row[2]).decode()):
                        continue
                    if not live(a["aggregate"]):
                        continue
                    if pruned and event(a["aggregate"], 1) is not None:
                        continue
                    if marked and event(a["aggregate"], a["version"] - 1) is None:
                        continue  # the state at a pruned stream's floor comes from its snapshot
                    used.add(a["aggregate"])
                    return a
                raise AssertionError(f"no acknowledged {kind} to tamper with")

            # 1. lost: the acknowledged event no longer carries its command's change.
            lost = pick("UpdateScriptContent")
            conn.execute(
                "UPDATE scripts_es.events SET state = convert_to(replace(convert_from(state,"
                " 'UTF8'), %s, 'LOST'), 'UTF8')"
                " WHERE originator_id = %s AND originator_version = %s",
                (lost["marker"], lost["aggregate"], lost["version"]),
            )
            # 2. duplicated: the same event once more, at the head of its stream.
            dup = pick("ChangeScriptDetails")
            tenant, topic, state = event(dup["aggregate"], dup["version"])  # type: ignore[misc]
            conn.execute(
                "INSERT INTO scripts_es.events (tenant_id, originator_id, originator_version,"
                " topic, state, occurred_at) VALUES (%s, %s, %s, %s, %s, now())",
                (tenant, dup["aggregate"], head(dup["aggregate"]) + 1, topic, state),
            )
            # 3. stale replay: the command log answers with another command's result.
            # (another result that differs: two no-ops decided on one state answer the same)
            for stale in acks[len(acks) // 2 :]:
                other = conn.execute(
                    "SELECT o.command_id FROM scripts_es.commands s JOIN scripts_es.commands o"
                    " ON o.kind = s.kind AND o.command_id <> s.command_id"
                    " AND o.result IS DISTINCT FROM s.result WHERE s.command_id = %s LIMIT 1",
                    (stale["command_id"],),
                ).fetchone()
                if other is not None:
                    break
            else:
                raise AssertionError("no acknowledged command with a result to swap")
            conn.execute(
                "UPDATE scripts_es.commands SET result = (SELECT result FROM scripts_es.commands"
                " WHERE command_id = %s) WHERE command_id = %s",
                (other[0], stale["command_id"]),
            )
            # 4. an event below a prune horizon.
            below = pick("UpdateScriptContent", marked=False, pruned=True)
            floor = conn.execute(
                "SELECT min(originator_version) FROM scripts_es.events WHERE originator_id = %s",
                (below["aggregate"],),
            ).fetchone()[0]  # type: ignore[index]
            tenant, topic, state = event(below["aggregate"], floor)  # type: ignore[misc]
            conn.execute(
                "INSERT INTO scripts_es.events (tenant_id, originator_id, originator_version,"
                " topic, state, occurred_at) VALUES (%s, %s, %s, %s, %s, now())",
                (tenant, below["aggregate"], floor - 1, topic, state),
            )
            # 5. a phantom: an event in a stream no writer ever sent anything to.
            phantom = str(uuid.uuid4())
            tenant, topic, state = event(lost["aggregate"], 1) or event(below["aggregate"], floor)  # type: ignore[misc]
            conn.execute(
                "INSERT INTO scripts_es.events (tenant_id, originator_id, originator_version,"
                " topic, state, occurred_at) VALUES (%s, %s, 1, %s, %s, now())",
                (tenant, phantom, topic, state),
            )
        chosen.update(lost=lost, dup=dup, stale=stale, below=below, phantom=phantom)

    cfg = HarnessConfig(
        seconds=5,
        writers=2,
        tenants=2,
        slots=4,
        faults={},
        maintenance=False,
        max_violations=10_000,
    )
    summary = run(cfg, before_checks=tamper)
    found = summary["violations"]

    def reported(bucket: str, check: str, stream: str, command_id: str | None = None) -> bool:
        return any(
            v["bucket"] == bucket
            and v["check"] == check
            and v["stream"] == stream
            and (command_id is None or v.get("command_id") == command_id)
            for v in found
        )

    lost, dup, stale = chosen["lost"], chosen["dup"], chosen["stale"]
    assert reported(
        "lost",
        "acknowledged event at the version its result names",
        lost["aggregate"],
        lost["command_id"],
    ), found
    assert reported(
        "stale",
        "acknowledged result is the stored state at its version",
        lost["aggregate"],
        lost["command_id"],
    ), found
    assert reported(
        "duplicated",
        "an acknowledged command's event appears once",
        dup["aggregate"],
        dup["command_id"],
    ), found
    assert reported("corrupted", "read model at the stream head", dup["aggregate"]), found
    assert reported(
        "stale", "a replay returns the acknowledged result", stale["aggregate"], stale["command_id"]
    ), found
    assert reported("corrupted", "no events below the horizon", chosen["below"]["aggregate"])
    # (a copy of a marked event is "not the stream its command named", of an unmarked one
    # "no such command sent": phantom either way)
    assert any(v["bucket"] == "phantom" and v["stream"] == chosen["phantom"] for v in found)
    assert summary["final_verify_exit_code"] == 1  # verify sees the tampered streams too
    # Nothing else: the run itself was clean, so every violation is on a tampered stream.
    tampered = {
        lost["aggregate"],
        dup["aggregate"],
        stale["aggregate"],
        chosen["below"]["aggregate"],
        chosen["phantom"],
        None,
    }
    assert {v["stream"] for v in found if v["bucket"] != "other"} <= tampered, found
    assert summary["non_library_errors"] == 0


def _ack(cid: str, aggregate: str, version: int, sent: float, ts: float) -> dict[str, Any]:
    return {
        "command_id": cid,
        "kind": "UpdateScriptContent",
        "aggregate": aggregate,
        "version": version,
        "sent": sent,
        "ts": ts,
        "w": "w0",
        "result": {},
    }


def test_an_answer_older_than_an_earlier_acknowledgement_is_stale() -> None:
    j = checks.Journals()
    j.acks = {
        "a": _ack("a", "s1", 3, sent=1.0, ts=1.1),
        "b": _ack("b", "s1", 2, sent=1.2, ts=1.3),  # sent after version 3 was acknowledged
        "c": _ack("c", "s1", 4, sent=1.05, ts=1.4),  # overlapping "a": may see either
        "d": _ack("d", "s2", 1, sent=0.5, ts=2.0),
    }
    f = checks.Findings()
    checks.check_linearizable(j, f)
    assert [(v["command_id"], v["stream"]) for v in f.stale] == [("b", "s1")]

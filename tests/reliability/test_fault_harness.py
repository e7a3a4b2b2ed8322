"""Issue 9: the promises hold under faults (the short run of tests/reliability/harness.py).

Three writer processes send random commands of every kind, with command_ids, for about 18 s
while the harness's own PostgreSQL is restarted (fast and immediate), writers are SIGKILLed,
backends are terminated and the maintenance CLI runs alongside. Then nothing acknowledged is lost
or duplicated, no acknowledgement is stale, no stream is corrupted, verify is clean and no error
escaped scripts_es.errors. `make soak` runs the same for longer.
"""

from __future__ import annotations

import orjson

from tests.reliability.harness import MAINTENANCE, ZEROS, HarnessConfig, run

FAULTS = {"restart_fast": 2, "restart_immediate": 2, "kill_writer": 2, "terminate_backends": 3}


def test_every_promise_holds_under_restarts_kills_terminations_and_maintenance() -> None:
    summary = run(HarnessConfig(seconds=18, writers=3, tenants=3, slots=6, faults=FAULTS))
    report = orjson.dumps(summary, option=orjson.OPT_INDENT_2, default=str).decode()[:30000]
    assert summary["faults"] == FAULTS, report
    # The writers did work (a floor, not a speed: a loaded machine acknowledges fewer).
    assert summary["commands"]["acknowledged"] >= 100, report
    assert set(summary["maintenance"]) == set(MAINTENANCE), report
    assert {key: summary[key] for key in ZEROS} == dict.fromkeys(ZEROS, 0), report
    assert summary["final_verify_exit_code"] == 0, report
    assert summary["ok"], report

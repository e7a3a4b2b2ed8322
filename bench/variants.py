"""What the suggested package changes would do, measured here without editing the package.

Each experiment runs the code as it is and a variant of it, on the same data, in one process:
the load query with sargable bounds (same text otherwise), and a rebuild with two small fixes
applied by patching at run time (a running row count; CronSim parses cached).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg

from bench.explain import capturing
from bench.load import Streams
from projections import rows as rows_module
from scripts_es import ScriptsModule
from scripts_es.domain import values

# scripts_es/store/queries.sql, load_stream: the same query with both bounds an index can use.
LOAD_FIXES = (
    (
        "SELECT min(originator_version) AS v\n    FROM scripts_es.events\n"
        "    WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s\n",
        "SELECT originator_version AS v\n    FROM scripts_es.events\n"
        "    WHERE tenant_id = %(tenant_id)s AND originator_id = %(originator_id)s\n"
        "    ORDER BY originator_version LIMIT 1\n",
    ),
    (
        "e.originator_version > coalesce((SELECT originator_version FROM snap), 0)",
        "e.originator_version > (SELECT coalesce(max(originator_version), 0) FROM snap)",
    ),
)


def _median_ms(conn: psycopg.Connection[Any], query: str, params: Any, prepare: bool) -> float:
    times = []
    for _ in range(120):
        t0 = time.perf_counter()
        conn.execute(query, params, prepare=prepare).fetchall()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times[20:]) * 1e3, 3)


def load_stream(dsn: str, streams: Streams) -> str:
    """The load query as it is and with sargable bounds: median ms per stream length."""
    t = streams.t
    with capturing(lambda text: "UNION ALL" in text and "snapshots" in text) as captured:
        t.scripts.find_by_id(streams.ids[10])
    current = captured[0][0]
    proposed = current
    for old, new in LOAD_FIXES:
        if old not in proposed:
            return f"load_stream changed; variant not applicable:\n{current}"
        proposed = proposed.replace(old, new)
    lines = ["variant    events  unprepared_ms  prepared_ms (generic plan, as the module runs it)"]
    with psycopg.connect(dsn) as conn:
        conn.execute("SET ROLE scripts_es_app")
        conn.execute("SELECT set_config('app.tenant_id', %s, false)", (str(t.session.tenant_id),))
        for name, query in (("current", current), ("proposed", proposed)):
            for length, script_id in streams.ids.items():
                params: dict[str, Any] = {"tenant_id": t.session.tenant_id, "upto": 2**62}
                params["originator_id"] = script_id
                cold = _median_ms(conn, query, params, False)
                warm = _median_ms(conn, query, params, True)
                lines.append(f"{name:9} {length:7d}  {cold:13.3f}  {warm:11.3f}")
    return "\n".join(lines) + f"\n\n-- proposed load_stream:\n{proposed}\n"


@contextmanager
def rebuild_fixes() -> Iterator[None]:
    """Rows keeps a running length; CronSim parses of the same expression are cached."""
    rows_class: Any = rows_module.Rows
    domain: Any = values
    add, length, cronsim = rows_class.add, rows_class.__len__, domain.CronSim

    def size(self: Any, key: tuple[Any, Any]) -> int:
        flat = len(self.scripts) + len(self.deleted_scripts) + len(self.executions)
        return flat + len(self.versions.get(key, ()))

    def counting_add(self: Any, state: Any, events: Any) -> None:
        key = (state.tenant_id, state.id)
        before = size(self, key)
        add(self, state, events)
        self.__dict__["_n"] = self.__dict__.get("_n", 0) + size(self, key) - before

    rows_class.add = counting_add
    rows_class.__len__ = lambda self: self.__dict__.get("_n", 0)
    domain.CronSim = lru_cache(maxsize=4096)(cronsim)
    try:
        yield
    finally:
        rows_class.add, rows_class.__len__, domain.CronSim = add, length, cronsim


def rebuild(module: ScriptsModule) -> str:
    """Events per second of a full rebuild as it is, then with the two fixes."""
    lines = []
    for name in ("current", "fixed", "current", "fixed"):
        if name == "fixed":
            with rebuild_fixes():
                report = module.rebuild_projections()
        else:
            report = module.rebuild_projections()
        lines.append(
            f"{name:8} {report.events} events in {report.seconds} s: "
            f"{report.events / report.seconds:,.0f} events/s"
        )
    return "\n".join(lines)

"""command_throughput_ratio: one writer, one script, content changing every command.

Rounds interleave the bare INSERT baseline and three module configurations (default, aggregate
cache off, inline projections off), so a burst of load from elsewhere hits all of them alike; the
ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import statistics
import uuid
from typing import Any

from bench.cpu import CpuMeter
from bench.timing import ratio, summary_ms, timed_round
from bench.writers import CommandWriter, RawWriter, event_shape
from scripts_es import ScriptsModule

VARIANTS: dict[str, dict[str, Any]] = {
    "default": {},
    "cache_off": {"cache_size": 0},
    "inline_off": {"inline_projections": False},
}


def measure(dsn: str, *, rounds: int, ops: int, warmup: int) -> dict[str, Any]:
    tenant_id, user_id = uuid.uuid4(), uuid.uuid4()
    modules = {
        name: ScriptsModule.open(dsn, install=False, **options)
        for name, options in VARIANTS.items()
    }
    raw = envelope = implicit = None
    try:
        writers: dict[str, Any] = {
            name: CommandWriter(module, tenant_id, user_id) for name, module in modules.items()
        }
        for _ in range(warmup):
            writers["default"].step()
        topic, payload = event_shape(dsn, writers["default"].script_id)
        raw = RawWriter(dsn, topic, payload)
        envelope = RawWriter(dsn, topic, payload, envelope="explicit")
        implicit = RawWriter(dsn, topic, payload, envelope="implicit")
        writers = {"raw": raw, "raw_envelope": envelope, "raw_implicit": implicit, **writers}
        for writer in writers.values():
            for _ in range(warmup):
                writer.step()
        rates: dict[str, list[float]] = {name: [] for name in writers}
        latencies: dict[str, list[float]] = {name: [] for name in writers}
        cpu = {name: CpuMeter(dsn) for name in writers}
        names = list(writers)
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                rates[name].append(timed_round(writers[name].step, ops, cpu[name], latencies[name]))
        for meter in cpu.values():
            meter.close()
    finally:
        for writer in (raw, envelope, implicit):
            if writer is not None:
                writer.close()
        for module in modules.values():
            module.close()
    median = {name: statistics.median(values) for name, values in rates.items()}
    paired = {
        name: statistics.median(a / b for a, b in zip(rates[name], rates["raw"], strict=True))
        for name in [*VARIANTS, "raw_envelope", "raw_implicit"]
    }
    return {
        "command_throughput_ratio": round(paired["default"], 4),
        "command_throughput": {
            "raw_insert_tx_per_s": round(median["raw"], 1),
            "scripts_es_cmd_per_s": round(median["default"], 1),
            "cache_off_cmd_per_s": round(median["cache_off"], 1),
            "inline_off_cmd_per_s": round(median["inline_off"], 1),
            "raw_envelope_tx_per_s": round(median["raw_envelope"], 1),
            "ratio_raw_envelope": round(paired["raw_envelope"], 4),
            "raw_implicit_tx_per_s": round(median["raw_implicit"], 1),
            "ratio_raw_implicit": round(paired["raw_implicit"], 4),
            "ratio_cache_off": round(paired["cache_off"], 4),
            "ratio_inline_off": round(paired["inline_off"], 4),
            "ratio_of_medians": ratio(median["default"], median["raw"]),
            "payload_bytes": payload,
            "rounds": rounds,
            "ops_per_round": ops,
            "rates_per_round": {k: [round(x, 1) for x in v] for k, v in rates.items()},
            "latency": {name: summary_ms(values) for name, values in latencies.items()},
            "cpu": {name: meter.per_op_ms(rounds * ops) for name, meter in cpu.items()},
        },
    }

"""How big each run is: the full run (`make bench`) and the quick one (`make bench QUICK=1`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    write_rounds: int  # single writer: interleaved rounds of each variant
    write_ops: int  # operations per round
    write_warmup: int
    async_rounds: int  # async vs threads: interleaved rounds of each side
    async_ops: int  # commands per writer (8 of them) per round
    conc_rounds: int  # concurrent: each round runs 1 and 4 writers, scripts-es and raw
    conc_seconds: float
    conc_warmup: int
    load_reps: int  # loads of each stream length
    tenants: int  # find / rebuild: the large data set has tenants × per_tenant scripts,
    per_tenant: int  # the small one a tenth of the tenants, the sparse one a tenth per tenant
    find_reps: int  # find samples (and as many hand-written ones) per scale
    prune_tenants: int
    prune_per_tenant: int
    claim_items: int  # claim: pending items per round (each side), 4 workers drain them
    claim_rounds: int
    due_small: int  # due: enabled cron scripts in the two databases compared
    due_large: int
    due_tenants: int
    due_reps: int  # due() samples per database and per `until`
    rss_tenants: int  # rebuild memory: a store of rss_tenants × rss_per_tenant scripts, then 2×
    rss_per_tenant: int
    feed_backlog: int  # events the feed catches up with
    feed_seconds: float  # writers run this long while the feed's latency is measured
    peer_rounds: int  # peers: interleaved rounds of ours and the eventsourcing library, 1 writer
    peer_ops: int  # commands (saves) per round and side
    peer_conc_rounds: int  # rounds of 4 writer processes per side, the sides alternating
    peer_conc_seconds: float
    peer_load_reps: int  # loads of each 2,000-event stream per side and configuration


FULL = Scale(
    name="full",
    write_rounds=5,
    write_ops=400,
    write_warmup=50,
    async_rounds=6,
    async_ops=100,
    conc_rounds=6,
    conc_seconds=4.0,
    conc_warmup=30,
    load_reps=400,
    tenants=200,
    per_tenant=1_000,  # 200,000 scripts (small: 20 × 1,000; sparse: 200 × 100)
    find_reps=1_000,
    prune_tenants=10,
    prune_per_tenant=1_000,  # 10,000 scripts of 100 versions
    claim_items=2_000,
    claim_rounds=3,
    due_small=10_000,
    due_large=100_000,
    due_tenants=100,
    due_reps=2_000,
    rss_tenants=20,
    rss_per_tenant=2_000,  # 40,000 scripts (about 90,000 events), then 80,000
    feed_backlog=200_000,
    feed_seconds=10.0,
    peer_rounds=12,
    peer_ops=200,
    peer_conc_rounds=6,
    peer_conc_seconds=4.0,
    peer_load_reps=300,
)

QUICK = Scale(
    name="quick",
    write_rounds=3,
    write_ops=150,
    write_warmup=30,
    async_rounds=4,
    async_ops=40,
    conc_rounds=2,
    conc_seconds=2.5,
    conc_warmup=20,
    load_reps=120,
    tenants=200,
    per_tenant=100,  # 20,000 scripts (small: 20 × 100; sparse: 200 × 10)
    find_reps=400,
    prune_tenants=4,
    prune_per_tenant=250,  # 1,000 scripts of 100 versions
    claim_items=400,
    claim_rounds=3,
    due_small=2_000,
    due_large=20_000,
    due_tenants=100,
    due_reps=600,
    rss_tenants=20,
    rss_per_tenant=500,
    feed_backlog=20_000,
    feed_seconds=4.0,
    peer_rounds=6,
    peer_ops=100,
    peer_conc_rounds=3,
    peer_conc_seconds=2.0,
    peer_load_reps=60,
)

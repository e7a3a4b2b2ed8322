"""Property: pruning any history under any policy changes nothing but the history (DESIGN §5).

Each example writes a random history for one script in a fresh tenant (content, details,
metadata, enable/disable, executions, and now and then an earlier prune), with a hand-moved
clock that advances by random steps including multi-day gaps, then prunes under a random policy
and checks every promise of §5 against a reference reading of the rule.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from scripts_es.domain import PruneResult, Script, VersionRetentionPolicy
from scripts_es.errors import VersionPruned
from tests.retention.history import reference_horizon, stamps_of
from tests.support.clock import EPOCH, Clock
from tests.support.raw import Raw

METADATA: dict[str, list[dict[str, Any]]] = {
    "one_off": [{}],
    "cron": [
        {"cron_expression": "* * * * *", "timezone": "UTC"},
        {"cron_expression": "*/5 * * * *", "timezone": "UTC"},
        {"cron_expression": "0 3 * * 1", "timezone": "Europe/Paris"},
    ],
    "http": [
        {"path": "/hook", "method": "POST"},
        {"path": "/hook", "method": "GET"},
        {"path": "/other/path", "method": "PUT"},
    ],
}

gaps = st.one_of(
    st.integers(0, 120).map(lambda s: timedelta(seconds=s)),
    st.integers(1, 72).map(lambda h: timedelta(hours=h)),
    st.tuples(st.integers(1, 15), st.integers(0, 86_399)).map(
        lambda d: timedelta(days=d[0], seconds=d[1])
    ),
)
max_versions = st.integers(1, 8)
retention_days = st.integers(1, 20)
policies = st.one_of(
    st.builds(VersionRetentionPolicy, max_versions=max_versions),
    st.builds(VersionRetentionPolicy, retention_days=retention_days),
    st.builds(VersionRetentionPolicy, max_versions=max_versions, retention_days=retention_days),
)
content = st.tuples(st.just("content"), st.text(alphabet="ab", min_size=1, max_size=3))
operations = st.one_of(
    content,
    content,
    content,
    st.tuples(
        st.just("details"),
        st.fixed_dictionaries(
            {},
            optional={
                "name": st.sampled_from(["alpha", "beta"]),
                "description": st.sampled_from(["", "does things"]),
                "tags": st.lists(st.sampled_from(["red", "blue", "green"]), max_size=2),
            },
        ),
    ),
    st.tuples(st.just("metadata"), st.integers(0, 2)),
    st.tuples(st.just("enable"), st.none()),
    st.tuples(st.just("disable"), st.none()),
    st.tuples(st.just("execute"), st.sampled_from([None, "completed", "failed", "timeout"])),
    st.tuples(st.just("prune"), policies),
)


@dataclass
class History:
    """What the test knows independently of the store: every version's state, the horizon."""

    session: TenantSession
    user_id: uuid.UUID
    clock: Clock
    script_id: uuid.UUID = field(default_factory=uuid.uuid4)
    states: dict[int, Script] = field(default_factory=dict)
    horizon: int = 1
    prunes: int = 0

    @property
    def current(self) -> int:
        return max(self.states)

    def record(self, state: Script) -> None:
        if state.version in self.states:
            assert state == self.states[state.version], "a no-op must not change the state"
        self.states[state.version] = state

    def expected_horizon(self, policy: VersionRetentionPolicy) -> int:
        """The reference horizon; earlier prunes only ever raise it (stored versions are ≥ it)."""
        full = reference_horizon(
            stamps_of(self.states.values()), self.current, self.clock.now, policy
        )
        return max(self.horizon, full)

    def prune(self, policy: VersionRetentionPolicy) -> PruneResult:
        expected = self.expected_horizon(policy)
        result = self.session.scripts.prune_version_history(self.script_id, policy)
        assert result == PruneResult(
            script_id=self.script_id, horizon=expected, removed=expected - self.horizon
        )
        self.horizon = expected
        self.prunes += 1
        return result

    def apply(self, kind: str, arg: Any, script_type: str) -> None:
        sid = self.script_id
        current = self.states[self.current]
        commands: dict[str, Any] = {
            "content": lambda: c.UpdateScriptContent(script_id=sid, content=arg),
            "details": lambda: c.ChangeScriptDetails(script_id=sid, **arg),
            "metadata": lambda: c.ChangeScriptMetadata(
                script_id=sid, metadata=METADATA[script_type][arg % len(METADATA[script_type])]
            ),
            "enable": lambda: c.EnableScript(script_id=sid),
            "disable": lambda: c.DisableScript(script_id=sid),
        }
        if kind == "prune":
            self.prune(arg)
        elif kind == "execute":
            if current.is_enabled:
                execution = self.session.handle(
                    c.StartExecution(script_id=sid, trigger=c.TriggerData(type="api"))
                )
                assert execution.script_version == current.version
                if arg is not None:
                    self.session.handle(c.CompleteExecution(execution_id=execution.id, status=arg))
        else:
            self.record(self.session.handle(commands[kind]()))


def answers(session: TenantSession, script_id: uuid.UUID, upto: int) -> dict[int, object]:
    """get_version's answer for every version: the state, or the VersionPruned horizon."""
    out: dict[int, object] = {}
    for version in range(1, upto + 1):
        try:
            out[version] = session.scripts.get_version(script_id, version)
        except VersionPruned as pruned:
            assert pruned.version == version
            out[version] = ("pruned", pruned.horizon)
    return out


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    script_type=st.sampled_from(sorted(METADATA)),
    steps=st.lists(st.tuples(gaps, operations), min_size=3, max_size=30),
    final_gap=gaps,
    policy=policies,
)
def test_pruning_a_random_history_changes_nothing_but_the_history(
    module: ScriptsModule,
    raw: Raw,
    script_type: str,
    steps: list[tuple[timedelta, tuple[str, Any]]],
    final_gap: timedelta,
    policy: VersionRetentionPolicy,
) -> None:
    clock = Clock()
    clocked = module.with_clock(clock)
    user_id = uuid.uuid4()
    history = History(clocked.tenant(uuid.uuid4(), user_id), user_id, clock)
    t = history.session
    sid = history.script_id
    history.record(
        t.handle(
            c.CreateScript(
                script_id=sid,
                name="prop",
                content="start",
                type=script_type,
                metadata=METADATA[script_type][0],
            )
        )
    )
    for gap, (kind, arg) in steps:
        clock.advance(gap)
        history.apply(kind, arg, script_type)
    clock.advance(final_gap)
    current = history.current
    before_model = raw.read_model()
    before_routes = raw.table("script_routes")
    before_history = t.scripts.get_version_history(sid)
    before_answers = answers(t, sid, current)
    old_horizon = history.horizon
    for version, answer in before_answers.items():
        expected = history.states[version] if version >= old_horizon else ("pruned", old_horizon)
        assert answer == expected

    result = history.prune(policy)
    h = result.horizon
    event("final prune removed events" if result.removed else "final prune removed nothing")
    event("history had an earlier prune" if history.prunes > 1 else "first prune")

    # current state and every read-model row >= horizon: unchanged
    assert t.scripts.find_by_id(sid) == history.states[current]
    after_model = raw.read_model()
    assert after_model["scripts"] == before_model["scripts"]
    assert after_model["executions"] == before_model["executions"]
    assert raw.table("script_routes") == before_routes
    assert after_model["script_versions"] == [
        row for row in before_model["script_versions"] if row[1] != sid or row[2] >= h
    ]
    # history is exactly h..c, as it was; time travel answers as before, or VersionPruned(h)
    after_history = t.scripts.get_version_history(sid)
    assert [v.version for v in after_history] == list(range(h, current + 1))
    assert after_history == [v for v in before_history if v.version >= h]
    after_answers = answers(t, sid, current)
    for version in range(1, current + 1):
        if version >= h:
            assert after_answers[version] == before_answers[version] == history.states[version]
        else:
            assert after_answers[version] == ("pruned", h)
    # the events are really gone; the snapshot at the horizon seeds what is left
    assert raw.event_versions(sid) == list(range(h, current + 1))
    snapshots = raw.snapshot_versions(sid)
    assert all(v >= h for v in snapshots)
    if h > 1:
        assert h in snapshots
    audit = raw.audit(sid)
    assert len(audit) == history.prunes
    assert audit[-1] == (clock.now, user_id, policy.model_dump(), h, result.removed)

    # the same policy at the same moment removes nothing more
    again = t.scripts.prune_version_history(sid, policy)
    assert (again.horizon, again.removed) == (h, 0)
    assert raw.read_model() == after_model

    # rebuilding from the (pruned) store gives the very same tables
    module.rebuild_projections()
    assert raw.read_model() == after_model
    assert module.verify_projections().ok

    # the version number never goes back
    clock.advance(timedelta(seconds=1))
    nxt = t.handle(c.UpdateScriptContent(script_id=sid, content="after the prune"))
    assert nxt.version == current + 1
    assert t.scripts.get_version(sid, current + 1) == nxt
    assert [v.version for v in t.scripts.get_version_history(sid)] == list(range(h, current + 2))
    assert module.verify_projections().ok


def test_the_reference_reading_agrees_with_the_worked_example_of_the_issue() -> None:
    """Versions on day 0, 5, 10, 20; retention_days=7 at day 21: the day-20 version."""
    stamps = {v: EPOCH + timedelta(days=d) for v, d in enumerate([0, 5, 10, 20], start=1)}
    now = EPOCH + timedelta(days=21)
    assert reference_horizon(stamps, 4, now, VersionRetentionPolicy(retention_days=7)) == 4
    assert reference_horizon(stamps, 4, now, VersionRetentionPolicy(retention_days=12)) == 3
    assert reference_horizon(stamps, 4, now, VersionRetentionPolicy(max_versions=3)) == 2
    both = VersionRetentionPolicy(max_versions=3, retention_days=100)
    assert reference_horizon(stamps, 4, now, both) == 2


@pytest.mark.parametrize("max_versions", [1, 2, 5, 50])
def test_the_policys_own_horizon_matches_the_reference_reading(max_versions: int) -> None:
    stamps = {v: EPOCH + timedelta(days=v) for v in range(1, 21)}
    now = EPOCH + timedelta(days=25)
    for days in (None, 1, 6, 10, 30):
        policy = VersionRetentionPolicy(max_versions=max_versions, retention_days=days)
        assert policy.horizon(stamps, 20, now) == reference_horizon(stamps, 20, now, policy)

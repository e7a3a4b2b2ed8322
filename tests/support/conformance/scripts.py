"""The script repository's contract (DESIGN §3, §4, §5): every backend's test class runs it."""

from __future__ import annotations

from datetime import timedelta
from uuid import uuid4

import pytest

from scripts_es.domain import (
    CronMetadata,
    Execution,
    PruneResult,
    Script,
    ScriptType,
    VersionRetentionPolicy,
)
from scripts_es.errors import ConcurrencyConflict, InvalidInput, NotFound, VersionPruned
from scripts_es.queries import ScriptFindParams
from tests.support.commands import METADATA
from tests.support.conformance.base import (
    CONTENT,
    DESCRIPTION,
    EXPECTED_METADATA,
    Repositories,
    assert_reads_back,
    fields,
    new_script,
)


class ScriptRepositoryContract:
    """Subclass with a `repositories` fixture to run these tests against a backend."""

    @pytest.fixture
    def repositories(self) -> Repositories:
        raise NotImplementedError("a backend's test class provides its repositories")

    # -- create, update, read back ---------------------------------------------------------------

    @pytest.mark.parametrize("type_", list(ScriptType))
    def test_a_script_of_every_type_round_trips_every_field_through_the_repository(
        self, repositories: Repositories, type_: ScriptType
    ) -> None:
        timed, clock = repositories, repositories.clock
        tenant_id, user_id = repositories.tenant_id, repositories.user_id
        new = Script.create(
            tenant_id=tenant_id,
            created_by=user_id,
            name="  Nightly report  ",
            content=CONTENT,
            type=type_,
            metadata=METADATA[type_],
            description=DESCRIPTION,
            tags=[" Ops", "ops", "Reports ", "ÜBER"],
            at=clock(),
        )
        stored = timed.scripts.create(new)
        assert fields(stored) == {
            "id": new.id,
            "tenant_id": tenant_id,
            "name": "Nightly report",
            "description": DESCRIPTION,
            "content": CONTENT,
            "type": type_,
            "version": 1,
            "is_enabled": True,
            "metadata": EXPECTED_METADATA[type_].model_dump(),
            "tags": ("ops", "reports", "über"),
            "created_at": clock(),
            "updated_at": clock(),
            "created_by": user_id,
            "updated_by": user_id,
            "is_deleted": False,
        }
        assert stored.metadata == EXPECTED_METADATA[type_]
        assert_reads_back(timed, stored)

    def test_every_script_change_round_trips_through_the_repository(
        self, repositories: Repositories
    ) -> None:
        timed, clock = repositories, repositories.clock
        user_id = repositories.user_id
        editor = uuid4()
        cron = {"cron_expression": "0 * * * *"}
        script = timed.scripts.create(
            new_script(timed, ScriptType.CRON, name="job", content="v1", metadata=cron)
        )
        created_at = script.created_at
        changes = [
            lambda s, at: s.update_content("v2 ✓", editor, at=at),
            lambda s, at: s.change_metadata(
                CronMetadata(cron_expression="15 3 * * 0", timezone="America/New_York"),
                editor,
                at=at,
            ),
            lambda s, at: s.change_details(
                by_user=editor, name="renamed", description="now described", tags=["X", "y"], at=at
            ),
            lambda s, at: s.change_details(by_user=editor, tags=[], at=at),
            lambda s, at: s.disable(editor, at=at),
            lambda s, at: s.enable(editor, at=at),
        ]
        for change in changes:
            at = clock.advance(timedelta(seconds=1))
            expected = change(script, at)
            assert len(expected.pending_events) == 1
            script = timed.scripts.update(expected)
            assert script == expected.without_pending()
            assert (script.updated_at, script.updated_by, script.created_at) == (
                at,
                editor,
                created_at,
            )
            assert script.created_by == user_id
            assert_reads_back(timed, script)
        assert (script.version, script.content, script.name, script.tags) == (
            7,
            "v2 ✓",
            "renamed",
            (),
        )
        assert script.metadata == CronMetadata(
            cron_expression="15 3 * * 0", timezone="America/New_York"
        )
        assert script.description == "now described" and script.is_enabled
        # The same state read by an instance that never saw these writes (no cache in between).
        with repositories.reopened() as fresh:
            assert fresh.scripts.find_by_id(script.id) == script

    def test_several_pending_changes_are_stored_by_one_update(
        self, repositories: Repositories
    ) -> None:
        timed, clock, user_id = repositories, repositories.clock, repositories.user_id
        script = timed.scripts.create(new_script(timed, ScriptType.ONE_OFF))
        at = clock.advance(timedelta(minutes=1))
        changed = script.update_content("two", user_id, at=at).disable(user_id, at=at)
        stored = timed.scripts.update(changed)
        assert stored.version == 3 and not stored.is_enabled and stored.content == "two"
        assert_reads_back(timed, stored)
        assert [v.change for v in timed.scripts.get_version_history(script.id)] == [
            "ScriptCreated",
            "ScriptContentUpdated",
            "ScriptDisabled",
        ]

    def test_an_update_with_nothing_pending_stores_nothing(
        self, repositories: Repositories
    ) -> None:
        repos = repositories
        script = repos.scripts.create(new_script(repos))
        before = repos.stored()
        assert repos.scripts.update(script) == script
        assert repos.scripts.update(script.update_content(script.content, repos.user_id)) == script
        assert repos.stored() == before

    def test_an_update_of_a_copy_the_stream_has_moved_past_is_a_concurrency_conflict(
        self, repositories: Repositories
    ) -> None:
        repos = repositories
        script = repos.scripts.create(new_script(repos))
        repos.scripts.update(script.update_content("first", repos.user_id, at=repos.clock()))
        before = repos.stored()
        with pytest.raises(ConcurrencyConflict):
            repos.scripts.update(script.update_content("second", repos.user_id))
        assert repos.stored() == before
        assert repos.scripts.find_by_id(script.id).content == "first"

    def test_a_script_that_was_never_stored_is_not_found(self, repositories: Repositories) -> None:
        with pytest.raises(NotFound):
            repositories.scripts.find_by_id(uuid4())
        with pytest.raises(NotFound):
            repositories.scripts.get_version_history(uuid4())
        with pytest.raises(NotFound):
            repositories.scripts.delete(uuid4())

    # -- find and count --------------------------------------------------------------------------

    def test_find_and_count_see_every_stored_script_and_agree(
        self, repositories: Repositories
    ) -> None:
        repos, clock = repositories, repositories.clock
        alpha = repos.scripts.create(new_script(repos, ScriptType.CRON, name="alpha", tags=["a"]))
        clock.advance(timedelta(seconds=1))
        beta = repos.scripts.create(new_script(repos, ScriptType.HTTP, name="beta", tags=["b"]))
        clock.advance(timedelta(seconds=1))
        gamma = repos.scripts.create(new_script(repos, name="gamma 100%", tags=["a", "b"]))
        gamma = repos.scripts.update(gamma.disable(repos.user_id, at=clock()))
        by_name = ScriptFindParams(sort=(("name", "asc"),))
        assert repos.scripts.find(by_name) == [alpha, beta, gamma]
        cases = {
            ScriptFindParams(type=ScriptType.HTTP): [beta],
            ScriptFindParams(enabled=False): [gamma],
            ScriptFindParams(tags_any=("a",), sort=by_name.sort): [alpha, gamma],
            ScriptFindParams(tags_all=("a", "b")): [gamma],
            ScriptFindParams(search="BET"): [beta],
            ScriptFindParams(search="100%"): [gamma],
            ScriptFindParams(search="0%_"): [],
            ScriptFindParams(updated_after=alpha.updated_at, sort=by_name.sort): [beta, gamma],
            ScriptFindParams(sort=(("version", "desc"), ("name", "asc")), limit=2): [gamma, alpha],
            ScriptFindParams(sort=by_name.sort, limit=1, offset=1): [beta],
        }
        for params, expected in cases.items():
            assert repos.scripts.find(params) == expected, params
        assert repos.scripts.count() == 3
        assert repos.scripts.count(ScriptFindParams(tags_any=("b",), limit=1, offset=5)) == 2

    def test_find_answers_only_the_repositories_tenant(self, repositories: Repositories) -> None:
        repos = repositories
        mine = repos.scripts.create(new_script(repos, name="mine"))
        foreign = new_script(repos, name="theirs").model_copy(update={"tenant_id": uuid4()})
        with pytest.raises(InvalidInput):
            repos.scripts.create(foreign)
        assert repos.scripts.find() == [mine]

    # -- version history, time travel, pruning ---------------------------------------------------

    def test_time_travel_through_the_repository_across_a_multi_event_snapshot_boundary(
        self, repositories: Repositories
    ) -> None:
        timed, clock = repositories, repositories.clock
        user_id = repositories.user_id
        script = timed.scripts.create(new_script(timed, name="repo", content="c1"))
        states = [script]
        while states[-1].version < 24:
            at = clock.advance(timedelta(seconds=1))
            current = states[-1]
            if current.version in (8, 18):  # two events in one append, across 10 and 20
                mid = current.update_content(f"c{current.version + 1}", user_id, at=at)
                both = mid.change_details(by_user=user_id, name=f"n{current.version + 2}", at=at)
                assert len(both.pending_events) == 2
                states += [mid.without_pending(), timed.scripts.update(both)]
            else:
                content = f"c{current.version + 1}"
                states.append(timed.scripts.update(current.update_content(content, user_id, at=at)))
        sid = script.id
        assert [s.version for s in states] == list(range(1, 25))
        assert repositories.event_versions(sid) == list(range(1, 25))
        assert repositories.snapshot_versions(sid), "an automatic snapshot was expected"
        for state in states:
            assert timed.scripts.get_version(sid, state.version) == state
        assert [h.version for h in timed.scripts.get_version_history(sid)] == list(range(1, 25))

    def test_a_version_that_does_not_exist_is_not_found_or_refused(
        self, repositories: Repositories
    ) -> None:
        repos = repositories
        script = repos.scripts.create(new_script(repos))
        with pytest.raises(NotFound):
            repos.scripts.get_version(script.id, 2)
        with pytest.raises(InvalidInput):
            repos.scripts.get_version(script.id, 0)

    def test_a_prune_keeps_the_history_from_the_horizon_and_nothing_else_changes(
        self, repositories: Repositories
    ) -> None:
        repos, clock, user_id = repositories, repositories.clock, repositories.user_id
        states = [repos.scripts.create(new_script(repos))]
        for version in range(2, 8):
            at = clock.advance(timedelta(minutes=1))
            changed = states[-1].update_content(f"v{version}", user_id, at=at)
            states.append(repos.scripts.update(changed))
        sid, policy = states[0].id, VersionRetentionPolicy(max_versions=3)
        found = repos.scripts.find()

        result = repos.scripts.prune_version_history(sid, policy)

        assert result == PruneResult(script_id=sid, horizon=5, removed=4)
        assert repos.event_versions(sid) == [5, 6, 7]
        assert [h.version for h in repos.scripts.get_version_history(sid)] == [5, 6, 7]
        for state in states[4:]:
            assert repos.scripts.get_version(sid, state.version) == state
        with pytest.raises(VersionPruned) as pruned:
            repos.scripts.get_version(sid, 4)
        assert pruned.value.horizon == 5
        assert repos.scripts.find_by_id(sid) == states[-1]
        assert repos.scripts.find() == found
        assert repos.scripts.prune_version_history(sid, policy).removed == 0
        after = repos.scripts.update(states[-1].update_content("v8", user_id, at=clock()))
        assert after.version == 8
        with repos.reopened() as fresh:
            assert fresh.scripts.get_version(sid, 5) == states[4]

    # -- delete ----------------------------------------------------------------------------------

    def test_a_deleted_script_is_gone_from_every_read_but_its_executions_stay(
        self, repositories: Repositories
    ) -> None:
        timed, at = repositories, repositories.clock
        keep = timed.scripts.create(new_script(timed, ScriptType.ONE_OFF, name="keep", tags=["x"]))
        doomed = timed.scripts.create(new_script(timed, ScriptType.HTTP, name="doomed", tags=["x"]))
        running = timed.executions.create(
            Execution.start(script=doomed, trigger={"type": "api"}, at=at())
        )
        finished = timed.executions.create(
            Execution.start(script=doomed, trigger={"type": "api"}, at=at())
        )
        finished = timed.executions.update(finished.complete("completed", at=at()))
        assert timed.scripts.count() == 2

        timed.scripts.delete(doomed.id)

        with pytest.raises(NotFound):
            timed.scripts.find_by_id(doomed.id)
        with pytest.raises(NotFound):
            timed.scripts.get_version_history(doomed.id)
        with pytest.raises(NotFound):
            timed.scripts.get_version(doomed.id, 1)
        assert timed.scripts.find() == [keep]
        assert timed.scripts.count() == 1
        for params in (
            ScriptFindParams(type=ScriptType.HTTP),
            ScriptFindParams(search="doomed"),
            ScriptFindParams(tags_any=("x",)),
            ScriptFindParams(enabled=True),
        ):
            assert [s.id for s in timed.scripts.find(params)] in ([], [keep.id])
            assert doomed.id not in {s.id for s in timed.scripts.find(params)}
            assert timed.scripts.count(params) == len(timed.scripts.find(params))
        assert timed.executions.find_by_id(running.id) == running
        assert timed.executions.find_by_id(finished.id) == finished
        assert repositories.event_versions(doomed.id) == [1, 2]

    def test_a_stale_copy_of_a_deleted_script_cannot_be_stored(
        self, repositories: Repositories
    ) -> None:
        timed, user_id = repositories, repositories.user_id
        script = timed.scripts.create(new_script(timed))
        timed.scripts.delete(script.id)
        before = repositories.stored()
        # Optimistic concurrency catches it (the stream moved); a reload then says NotFound.
        with pytest.raises((NotFound, ConcurrencyConflict)):
            timed.scripts.update(script.update_content("zombie", user_id))
        assert repositories.stored() == before
        with pytest.raises(NotFound):
            timed.scripts.find_by_id(script.id)

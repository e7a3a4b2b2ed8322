"""Issue 9, cause 2: a no-op decided on a stale cached state is never stored under a command_id.

Two modules stand for two processes: each has its own aggregate cache. A decision made on a
cached state that another process has since moved must be decided again before anything is
recorded under the command's id.
"""

from __future__ import annotations

from uuid import uuid4

from scripts_es import ScriptsModule, TenantSession
from scripts_es import commands as c
from tests.support.commands import create_command
from tests.support.raw import stream_versions


def test_a_no_op_update_on_a_stale_cache_is_decided_again_before_it_is_recorded(
    one_tenant_twice: tuple[TenantSession, TenantSession], dsn: str
) -> None:
    t1, t2 = one_tenant_twice
    script = t1.handle(create_command(content="A"))
    t1.handle(c.UpdateScriptContent(script_id=script.id, content="B"))  # t1 caches v2 "B"
    t2.handle(c.UpdateScriptContent(script_id=script.id, content="C"))  # v3 "C" elsewhere
    command = c.UpdateScriptContent(script_id=script.id, content="B", command_id=uuid4())
    answer = t1.handle(command)
    assert (answer.version, answer.content) == (4, "B")
    assert t1.handle(command) == answer
    assert t2.handle(command) == answer
    current = t2.scripts.find_by_id(script.id)
    assert (current.version, current.content) == (4, "B")
    assert stream_versions(dsn, script.id) == [1, 2, 3, 4]


def test_enabling_on_a_stale_cache_after_another_process_disabled_enables_it(
    one_tenant_twice: tuple[TenantSession, TenantSession],
) -> None:
    t1, t2 = one_tenant_twice
    script = t1.handle(create_command())
    t1.handle(c.UpdateScriptContent(script_id=script.id, content="cached"))
    t2.handle(c.DisableScript(script_id=script.id))
    command = c.EnableScript(script_id=script.id, command_id=uuid4())
    answer = t1.handle(command)
    assert answer.is_enabled and answer.version == 4
    assert t1.handle(command) == answer
    assert t2.scripts.find_by_id(script.id) == answer


def test_a_true_no_op_on_a_fresh_cache_is_recorded_and_replayed(
    two_modules: tuple[ScriptsModule, ScriptsModule], dsn: str
) -> None:
    first, _ = two_modules
    t1 = first.tenant(uuid4(), uuid4())
    script = t1.handle(create_command(content="A"))
    command = c.UpdateScriptContent(script_id=script.id, content="A", command_id=uuid4())
    answer = t1.handle(command)
    assert answer == script
    assert t1.handle(command) == answer
    assert stream_versions(dsn, script.id) == [1]


def test_a_no_op_on_a_stale_cache_without_command_id_answers_the_current_state(
    one_tenant_twice: tuple[TenantSession, TenantSession],
) -> None:
    t1, t2 = one_tenant_twice
    script = t1.handle(create_command())
    t1.handle(c.DisableScript(script_id=script.id))
    t2.handle(c.EnableScript(script_id=script.id))
    t2.handle(c.DisableScript(script_id=script.id))  # v4, disabled again
    answer = t1.handle(c.DisableScript(script_id=script.id))  # a no-op, but on v2 cached
    assert answer.version == 4 and not answer.is_enabled

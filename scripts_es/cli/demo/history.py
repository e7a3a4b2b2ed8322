"""Chapters 6-7: version history and time travel; pruning old history behind a snapshot."""

from __future__ import annotations

import difflib

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.syntax import Syntax

from scripts_es import commands
from scripts_es.cli.demo.story import Attempt, Section, Story, attempt
from scripts_es.cli.demo.views import attempt_row, attempts_table, trigger
from scripts_es.cli.output import grid
from scripts_es.domain import PruneResult, Script


def _code(script: Script, label: str) -> RenderableType:
    body = Syntax(script.content.rstrip("\n"), "python", theme="ansi_dark", word_wrap=True)
    return Panel(body, title=f"{label}: {trigger(script)}", title_align="left", expand=False)


def travel(story: Story) -> Section:
    """Chapter 6: a script's version history is its event stream; any version can be loaded."""
    scripts = story.alice.scripts
    script_id = story.scripts["nightly-report"].id
    history = scripts.get_version_history(script_id)
    first, current = scripts.get_version(script_id, 1), scripts.find_by_id(script_id)
    diff = difflib.unified_diff(
        first.content.splitlines(),
        current.content.splitlines(),
        "v1",
        f"v{current.version}",
        lineterm="",
    )
    rows = [
        (v.version, v.updated_at.strftime("%H:%M:%S"), story.who(v.updated_by), v.change)
        for v in history
    ]
    view = Group(
        grid("Version history of nightly-report", ["v", "at (UTC)", "by", "change"], rows),
        _code(first, "get_version(id, 1)"),
        _code(current, f"current (v{current.version})"),
        Panel(Syntax("\n".join(diff), "diff", theme="ansi_dark"), title="diff", expand=False),
    )
    return Section(
        "Version history and time travel",
        "get_version_history lists the stream's events; get_version folds the stream up to any "
        "retained version, so the script as it was at v1 comes back exactly.",
        view,
        {
            "script": script_id,
            "history": [v.model_dump(mode="json") for v in history],
            "v1": {"content": first.content, "trigger": trigger(first)},
            "current": {
                "version": current.version,
                "content": current.content,
                "trigger": trigger(current),
            },
        },
    )


def prune(story: Story) -> Section:
    """Chapter 7: keep the newest two versions; current state and reads stay as they were."""
    alice, scripts = story.alice, story.alice.scripts
    script_id = story.scripts["nightly-report"].id
    before = scripts.find_by_id(script_id)
    pruned: PruneResult = alice.handle(
        commands.PruneScriptHistory(script_id=script_id, max_versions=2)
    )
    after = scripts.find_by_id(script_id)
    kept = [v.version for v in scripts.get_version_history(script_id)]
    oldest = scripts.get_version(script_id, kept[0])
    again: PruneResult = alice.handle(
        commands.PruneScriptHistory(script_id=script_id, max_versions=2)
    )
    story.clock.tick(60)
    changed: Script = story.bob.handle(
        commands.UpdateScriptContent(
            script_id=script_id, content=after.content + "log.info('sent')\n"
        )
    )
    story.scripts["nightly-report"] = changed
    tried: list[Attempt] = [
        Attempt("alice", "PruneScriptHistory(max_versions=2)", "ok",
                f"horizon v{pruned.horizon}: {pruned.removed} events removed", refused=False),
        Attempt("alice", "get_version_history", "ok",
                "versions " + ", ".join(map(str, kept)), refused=False),
        attempt("alice", "get_version(id, 1)", lambda: scripts.get_version(script_id, 1),
                "loaded"),
        Attempt("alice", f"get_version(id, {kept[0]})", "ok",
                f"loaded (from the snapshot): schedule was {trigger(oldest)}", refused=False),
        Attempt("alice", "find_by_id: same as before the prune?", "ok",
                f"yes, v{after.version}" if after == before else "NO: the state changed",
                refused=after != before),
        Attempt("alice", "prune again with the same policy", "ok",
                f"{again.removed} events removed", refused=False),
        Attempt("bob", "change the content after the prune", "ok",
                f"v{before.version} -> v{changed.version}: versions never go back",
                refused=False),
    ]  # fmt: skip
    return Section(
        "Pruning history",
        "Pruning stores a snapshot at the horizon and deletes the older events, in one "
        "transaction. Current state and every read stay as they were; versions below the "
        "horizon raise VersionPruned instead of returning an older state.",
        attempts_table("Prune nightly-report", tried),
        {"prune": pruned.model_dump(mode="json"), "kept": kept,
         "attempts": [attempt_row(a) for a in tried]},
    )  # fmt: skip

"""Chapters 1-3: meet the tenants, create scripts of every type, change them (one event each)."""

from __future__ import annotations

from typing import Any

from rich.console import Group
from rich.text import Text

from scripts_es import TenantSession, commands
from scripts_es.cli.demo.story import Section, Story
from scripts_es.cli.demo.views import script_row, scripts_table
from scripts_es.cli.output import grid
from scripts_es.domain import Script, ScriptType

NIGHTLY = {
    1: 'report = sales.summary(day="yesterday")\nmail.send("ops@acme.test", report)\n',
    2: 'report = sales.summary(day="yesterday", currency="EUR")\n'
    'mail.send("ops@acme.test", report.as_pdf())\n',
    3: 'report = sales.summary(day="yesterday", currency="EUR")\n'
    "for attempt in retry(times=3):\n"
    "    with attempt:\n"
    '        mail.send("ops@acme.test", report.as_pdf())\n',
}


def _create(
    name: str, type_: ScriptType, metadata: dict[str, Any], **fields: Any
) -> commands.CreateScript:
    return commands.CreateScript(name=name, type=type_, metadata=metadata, **fields)


def script_commands() -> list[tuple[str, str, commands.CreateScript]]:
    """(who, key in the story, command): what the users create, in order."""
    cron, http = ScriptType.CRON, ScriptType.HTTP
    return [
        ("alice", "nightly-report", _create(
            "nightly-report", cron, {"cron_expression": "0 2 * * *", "timezone": "Europe/Berlin"},
            description="Emails yesterday's sales report.", tags=["reports", "nightly"],
            content=NIGHTLY[1])),
        ("alice", "orders-webhook", _create(
            "orders-webhook", http, {"path": "/hooks/orders", "method": "post"},
            description="Receives new orders from the shop.", tags=["webhooks", "orders"],
            content="order = request.json()\nqueue.put('orders', order)\n")),
        ("bob", "health", _create(
            "health", http, {"path": "/health", "method": "GET"},
            description="Liveness probe for the load balancer.", tags=["ops"],
            content="return {'status': 'ok'}\n")),
        ("alice", "backfill-2024", _create(
            "backfill-2024", ScriptType.ONE_OFF, {},
            description="One-time import of last year's invoices.", tags=["migration"],
            content="for invoice in legacy.invoices(year=2024):\n    ledger.import_(invoice)\n")),
        ("bob", "price-rules", _create(
            "price-rules", ScriptType.EMBEDDED, {},
            description="Pricing rules the shop evaluates in-process.", tags=["pricing", "orders"],
            content="def price(item, customer):\n    return item.list_price * customer.rate\n")),
        ("gina", "globex/orders-webhook", _create(
            "orders-webhook", http, {"path": "/hooks/orders", "method": "POST"},
            description="Globex's own order intake.", tags=["webhooks"],
            content="return forward(request, to='erp')\n")),
        ("gina", "globex/cleanup-tmp", _create(
            "cleanup-tmp", cron, {"cron_expression": "*/15 * * * *", "timezone": "UTC"},
            description="Deletes temporary uploads.", tags=["ops"],
            content="storage.delete_older_than('tmp/', hours=1)\n")),
    ]  # fmt: skip


def session(story: Story, who: str) -> TenantSession:
    """The tenant session a user of the story acts through."""
    sessions: dict[str, TenantSession] = {
        "alice": story.alice,
        "bob": story.bob,
        "gina": story.gina,
    }
    return sessions[who]


def meet(story: Story, database: str) -> Section:
    """Chapter 1: the database, the tenants and their users."""
    rows = [
        ("Acme", str(story.acme), "alice, bob"),
        ("Globex", str(story.globex), "gina"),
    ]
    view = Group(
        Text.assemble(("database  ", "cyan"), database),
        grid(None, ["tenant", "tenant id (fresh each run)", "users"], rows),
    )
    return Section(
        "Two tenants",
        "Each run invents new tenants, so the demo can run again and again on one database. "
        "Story time starts three hours ago and moves only when the story says so.",
        view,
        {"database": database, "tenants": {"Acme": story.acme, "Globex": story.globex}},
    )


def create(story: Story) -> Section:
    """Chapter 2: scripts of every type, created through command handlers."""
    for who, key, command in script_commands():
        story.scripts[key] = session(story, who).handle(command)
        story.clock.tick(60)
    made = list(story.scripts.values())
    return Section(
        "Scripts of every type",
        "tenant.handle(CreateScript(...)) validates, appends one ScriptCreated event and updates "
        "the read model in the same transaction. Both tenants own an orders-webhook on "
        "POST /hooks/orders: routes are unique per tenant, not globally.",
        scripts_table(story, made),
        {"scripts": [script_row(story, s) for s in made]},
    )


def change(story: Story) -> Section:
    """Chapter 3: content, schedule, details and enabled flag change; a no-op changes nothing."""
    nightly, webhook = story.scripts["nightly-report"].id, story.scripts["orders-webhook"].id
    backfill = story.scripts["backfill-2024"].id
    steps: list[tuple[str, str, str, commands.Command]] = [
        ("alice", "nightly-report", "content: in EUR, as PDF",
         commands.UpdateScriptContent(script_id=nightly, content=NIGHTLY[2])),
        ("bob", "nightly-report", "content: retry mail delivery 3x",
         commands.UpdateScriptContent(script_id=nightly, content=NIGHTLY[3])),
        ("bob", "nightly-report", "schedule: 02:00 -> 01:30",
         commands.ChangeScriptMetadata(
             script_id=nightly,
             metadata={"cron_expression": "30 1 * * *", "timezone": "Europe/Berlin"})),
        ("alice", "orders-webhook", "details: description and tags",
         commands.ChangeScriptDetails(
             script_id=webhook, description="Receives new and updated orders from the shop.",
             tags=["webhooks", "orders", "shop"])),
        ("alice", "backfill-2024", "disabled: the import is done",
         commands.DisableScript(script_id=backfill)),
        ("bob", "orders-webhook", "enable (it already is)",
         commands.EnableScript(script_id=webhook)),
    ]  # fmt: skip
    rows, data = [], []
    for who, key, what, command in steps:
        before = story.scripts[key]
        after = session(story, who).handle(command)
        assert isinstance(after, Script)
        story.scripts[key] = after
        story.clock.tick(7 * 60)
        moved = after.version != before.version
        version = f"{before.version} -> {after.version}" if moved else f"{after.version} (no event)"
        rows.append((who, key, what, version))
        data.append(
            {"by": who, "script": key, "change": what, "from": before.version, "to": after.version}
        )
    return Section(
        "Changes are events",
        "Every state change appends exactly one event and raises the version by one. "
        "A command that changes nothing appends nothing.",
        Group(
            grid(None, ["who", "script", "change", "version"], rows),
            scripts_table(
                story,
                [story.scripts[k] for k in ("nightly-report", "orders-webhook", "backfill-2024")],
            ),
        ),
        {"changes": data},
    )

"""Rendering for the CLI: rich tables and progress on a terminal, one JSON document with --json."""

from __future__ import annotations

import sys
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, is_dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import orjson
from pydantic import BaseModel
from rich.console import Console, RenderableType
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ProgressFn = Callable[[int, int], None]
PIPED_WIDTH = 120


def plain(value: Any) -> Any:
    """A JSON-ready copy of `value` (pydantic models, dataclasses, UUIDs, datetimes, ...)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if is_dataclass(value) and not isinstance(value, type):
        return plain(asdict(value))
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def human_bytes(size: int) -> str:
    """`1536` -> `1.5 KiB`."""
    amount = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(amount) < 1024 or unit == "GiB":
            return f"{int(amount)} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    raise AssertionError("unreachable")


def when(value: datetime | None) -> str:
    """A timestamp for tables: UTC, to the second."""
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


class Output:
    """Where a command's results go: rich renderables to the console, or one JSON document."""

    def __init__(self, *, as_json: bool) -> None:
        self.as_json = as_json
        self.console = Console(highlight=False)
        if not self.console.is_terminal:  # piped or captured: rich would assume 80 columns
            self.console.width = max(self.console.width, PIPED_WIDTH)

    def emit(self, document: Any) -> None:
        """Write one JSON document to stdout."""
        data = orjson.dumps(plain(document), option=orjson.OPT_INDENT_2)
        sys.stdout.write(data.decode() + "\n")
        sys.stdout.flush()

    def show(self, *renderables: RenderableType) -> None:
        """Print renderables (nothing in JSON mode: there stdout holds the document only)."""
        if not self.as_json:
            self.console.print(*renderables)

    def result(self, document: Any, view: Callable[[], RenderableType]) -> None:
        """A command's result: `document` as JSON, or the rich `view` of it."""
        if self.as_json:
            self.emit(document)
        else:
            self.show(view())

    @property
    def interactive(self) -> bool:
        """True when progress bars make sense: human output to a terminal."""
        return not self.as_json and self.console.is_terminal

    @contextmanager
    def progress(self, label: str) -> Iterator[ProgressFn | None]:
        """A `(done, total)` callback that drives a progress bar, or None off a terminal."""
        if not self.interactive:
            yield None
            return
        columns = (
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=self.console, transient=False) as bar:
            task = bar.add_task(label, total=None)

            def update(done: int, total: int) -> None:
                bar.update(task, completed=done, total=max(total, done))

            yield update


def key_values(title: str, rows: Sequence[tuple[str, Any]]) -> Table:
    """A two-column table of labelled values."""
    table = Table(
        title=title,
        show_header=False,
        title_justify="left",
        title_style="bold",
        min_width=len(title) + 1,
    )
    table.add_column(style="cyan")
    table.add_column(justify="right")
    for label, value in rows:
        table.add_row(label, str(value))
    return table


def grid(
    title: str | None,
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    no_wrap: Collection[str] = (),
) -> Table:
    """A table with a header row; cells are strings (rich markup allowed) or renderables."""
    table = Table(title=title, title_justify="left", title_style="bold")
    for header in headers:
        table.add_column(header, no_wrap=header in no_wrap)
    for row in rows:
        table.add_row(*(_cell(value) for value in row))
    return table


def _cell(value: Any) -> RenderableType:
    if isinstance(value, str) or hasattr(value, "__rich_console__") or hasattr(value, "__rich__"):
        return value  # type: ignore[no-any-return]
    return "—" if value is None else str(value)

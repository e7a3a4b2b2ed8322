"""The `scripts-es` command line: `cli(argv)` runs it in-process and returns the exit code."""

from __future__ import annotations

import logging
import sys
import warnings

from typer.main import get_command

from scripts_es.cli.app import app
from scripts_es.errors import ScriptsError


def cli(argv: list[str]) -> int:
    """Run `scripts-es` with `argv`; 0 ok, 1 failure, 2 usage error."""
    # psycopg warns on every failed pool connection attempt and on every pipeline aborted by an
    # expected conflict; the CLI reports what matters in one line of its own.
    logging.getLogger("psycopg").setLevel(logging.ERROR)
    # platformdirs warns (on the embedded server's behalf) when XDG_RUNTIME_DIR is unset.
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
    command = get_command(app)
    try:
        command.main(args=argv, prog_name="scripts-es", standalone_mode=True)
    except SystemExit as done:
        return _code(done.code)
    except ScriptsError as error:
        _fail(error)
        return 1
    return 0


def main() -> None:
    """Console-script entry point."""
    sys.exit(cli(sys.argv[1:]))


def _code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


def _fail(error: ScriptsError) -> None:
    message = " ".join(str(error).split()) or type(error).__name__
    if error.hint:
        message += f" ({error.hint})"
    print(f"scripts-es: error: {message}", file=sys.stderr)

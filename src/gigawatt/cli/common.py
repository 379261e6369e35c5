"""What every command shares: the consoles, one error printer, the exit codes, scenario loading, JSON output.

Only typer and the standard library are imported here; rich and the models
load inside the functions that need them, so that ``gigawatt --help`` stays fast.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, Optional

import typer

#: exit status of every command
EXIT_OK = 0
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130
EXIT_CODES = {
    EXIT_OK: "done",
    1: "an unexpected error: a bug in gigawatt (the traceback says where; please report it)",
    EXIT_BAD_INPUT: "bad input or state (a scenario, a flag, a file, the results store): the message names it "
                    "and a hint says how to fix it; nothing already saved was changed",
    EXIT_INTERRUPTED: "interrupted (Ctrl-C); nothing already saved was changed",
}

DEFAULT_DB = Path("gigawatt.duckdb")
JSON_OPTION = typer.Option(False, "--json", help="Print one JSON object on stdout, nothing else (SI units).")
DB_OPTION = typer.Option(DEFAULT_DB, "--db", help="The results store (DuckDB file).")
SET_OPTION = typer.Option(
    None, "--set", metavar="KEY=VALUE",
    help="Override a scenario value by dotted path, written as in the file (repeatable): "
         "--set deal.spend_limit.per_year='$40B' --set sites[0].pue=1.2")


@functools.cache
def stdout():
    """The console for results; piped output keeps whole table rows instead of wrapping at 80 columns."""
    from rich.console import Console

    return Console(highlight=False, emoji=False, width=None if sys.stdout.isatty() else 200)


@functools.cache
def stderr():
    """The console for errors and progress."""
    from rich.console import Console

    return Console(stderr=True, highlight=False, emoji=False)


def safe(text: Any) -> str:
    """``text`` for the terminal: control and bidirectional characters shown as escapes, line breaks kept."""
    from gigawatt.safe_text import terminal_text

    return "\n".join(terminal_text(line) for line in str(text).split("\n"))


def fail(message: str, hint: Optional[str] = None, flag: Optional[str] = None) -> NoReturn:
    """Print ``error: [flag: ]message`` and ``hint: ...`` on stderr and exit with status 2."""
    if flag and not message.startswith(flag):
        message = f"{flag}: {message}"
    print(f"error: {safe(message)}", file=sys.stderr)
    if hint:
        print(f"  hint: {safe(hint)}", file=sys.stderr)
    raise typer.Exit(EXIT_BAD_INPUT)


def guard(fn, *args, **kwargs):
    """Call ``fn``; a :class:`~gigawatt.errors.GigawattError` becomes one message, its hint, and exit 2."""
    from gigawatt.errors import GigawattError, ScenarioError

    try:
        return fn(*args, **kwargs)
    except ScenarioError as exc:
        print_problems(exc, exc.filename or "input")
    except GigawattError as exc:
        fail(str(exc), getattr(exc, "hint", None), getattr(exc, "flag", None))


def print_problems(exc, label: Any) -> NoReturn:
    """Every problem of a :class:`~gigawatt.errors.ScenarioError`, with path, line and hint; exit 2."""
    err = stderr()
    n = len(exc.problems)
    err.print(f"{safe(label)}: {n} problem{'s' if n != 1 else ''}", style="bold red", markup=False)
    for p in exc.problems:
        err.print(safe(p.format(str(label))), markup=False, soft_wrap=True)
    raise typer.Exit(EXIT_BAD_INPUT)


def load_scenario(path: Path, overrides: Optional[list[str]] = None):
    """A scenario file, or a library deal by name, with ``--set KEY=VALUE`` overrides; or exit 2 listing every problem."""
    from gigawatt.errors import GigawattError, ScenarioError
    from gigawatt.pipeline import load
    from gigawatt.scenario import parse_override

    try:
        pairs = dict(parse_override(item) for item in overrides or [])
        return load(path, set=pairs)
    except ScenarioError as exc:
        print_problems(exc, path)
    except GigawattError as exc:
        fail(str(exc))


def print_json(value: Any, indent: Optional[int] = None) -> None:
    """Strict JSON on stdout (NaN and infinity as null)."""
    from gigawatt.jsonio import dumps

    print(dumps(value, indent=indent))


def lock_timeout_s() -> float:
    """How long to wait for another process holding the store [s]: $GIGAWATT_LOCK_TIMEOUT_S, default 30."""
    try:
        value = float(os.environ.get("GIGAWATT_LOCK_TIMEOUT_S", "30"))
    except ValueError:
        return 30.0
    return value if 0 <= value < 86400 else 30.0


def cell(value: Any) -> str:
    """A value read from outside (a store, a file) as a table cell: terminal-safe, rich markup escaped."""
    from rich.markup import escape

    return escape(safe("-" if value is None else value))

"""How the command line reports: exit codes, one-line errors, and output that fits a terminal
(tables, pretty JSON) or a pipe (tab-separated lines, or JSON lines with ``--json``)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_PRECONDITION = 4
EXIT_AUTH = 5
EXIT_UNAVAILABLE = 6


class CliError(Exception):
    """A failure to report as one line and a non-zero exit (2 unless told)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


def code_for_status(status: int) -> int:
    """What an answer's status (0: no answer) means to a script."""
    if status == 404:
        return EXIT_NOT_FOUND
    if status == 412:
        return EXIT_PRECONDITION
    if status in (401, 403):
        return EXIT_AUTH
    if status in (0, 502, 503, 504):
        return EXIT_UNAVAILABLE
    return EXIT_FAILED


def fail(message: str) -> None:
    print(f"pathkv: error: {message}", file=sys.stderr)


def silence_stdout() -> None:
    """The reader went away (``pathkv ls | head``): its choice, not an error. Python would
    flush stdout again at exit; point it at nothing."""
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def terminal() -> bool:
    return sys.stdout.isatty()


def json_line(value: object) -> None:
    sys.stdout.write(json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n")


def show_json(value: object) -> None:
    """One value: indented and coloured on a terminal, one line in a pipe."""
    if terminal():
        from rich.console import Console

        Console().print_json(json.dumps(value, ensure_ascii=False))
    else:
        json_line(value)


def rows(
    columns: Sequence[str], items: Iterable[dict[str, Any]], as_json: bool, title: str | None = None
) -> None:
    """Records as a table on a terminal, tab-separated in a pipe, JSON lines with --json."""
    if as_json:
        for item in items:
            json_line(item)
        return
    if not terminal():
        for item in items:
            sys.stdout.write("\t".join(_cell(item.get(c)) for c in columns) + "\n")
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in NUMERIC else "left")
    count = 0
    for item in items:
        table.add_row(*(_cell(item.get(c)) for c in columns))
        count += 1
    console = Console()
    if count:
        console.print(table)
    else:
        console.print("[dim](nothing)[/dim]")


NUMERIC = frozenset(("hits", "version", "ttl", "documents", "bytes"))


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)

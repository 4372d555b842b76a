"""The command line's two consoles and its error panel, shared by every command module."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.panel import Panel

from srdistill.errors import UserError

# Off a terminal (CI logs, pipes, files) rich would wrap at 80 columns; tables need more.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(error: UserError) -> NoReturn:
    """Print a user error as one short panel and exit with status 1."""
    body = error.problem + (f"\n\n[bold]Fix:[/] {error.fix}" if error.fix else "")
    err.print(
        Panel(body, title="[bold red]error", title_align="left", border_style="red", expand=False),
        highlight=False,
    )
    raise typer.Exit(1)

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


def load_registries():  # type: ignore[no-untyped-def]
    """The registries, with plugin problems shown once as warnings (never a crash)."""
    import warnings

    from srdistill.catalog import catalog
    from srdistill.plugins import PluginWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # printed below, in colour
        cat = catalog()
    for problem in cat.problems:
        err.print(f"[yellow]warning:[/] {problem}", highlight=False)
    return cat

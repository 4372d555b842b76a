"""The ``srdistill`` command line.

This module imports only typer and rich; torch, timm and basicsr are imported inside the
commands that need them, so ``srdistill --help`` stays fast.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from srdistill import __version__
from srdistill.cli_inference import export, upscale
from srdistill.cli_shards import shards
from srdistill.cli_study import study
from srdistill.cli_weights import weights_app
from srdistill.errors import Stopped, UserError
from srdistill.ui import console
from srdistill.ui.console import fail, load_registries

if TYPE_CHECKING:
    from srdistill.recipe.schema import Recipe

app = typer.Typer(
    name="srdistill",
    help="Teacher-student super-resolution: train an SR network so a frozen classifier sees the same thing.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
RecipeArg = Annotated[
    Path, typer.Argument(help="Recipe YAML file, e.g. recipes/fmnist_darionet.yaml.", show_default=False)
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        help="Override a recipe field, e.g. --set train.epochs=3 (repeatable).",
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        console.out.print(f"srdistill {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    """Teacher-student super-resolution (DarioNet): see README.md for the quickstart."""


@app.command()
def train(
    recipe: RecipeArg,
    set_: SetOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate, build, print the plan, and exit.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing run folder.")] = False,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the unfinished run in the run folder (also done unasked).")
    ] = False,
) -> None:
    """Train the student (or the teacher, with train.fit=teacher) described by RECIPE."""
    try:
        from srdistill.engine.runs import resolved_yaml
        from srdistill.recipe import load_recipe

        load_registries()
        spec = load_recipe(recipe, set_ or [])
        if dry_run:
            _dry_run(spec, resolved_yaml(spec))
            return
        from srdistill.engine.train import train as run_training

        run_training(spec, console.err, overwrite=overwrite, resume=resume)
    except UserError as e:
        fail(e)
    except Stopped as e:
        console.err.print(f"[yellow]{e}[/]")
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        console.err.print("[yellow]interrupted[/]; the run folder keeps its latest snapshot: the same command resumes.")
        raise typer.Exit(130) from None


def _dry_run(spec: Recipe, text: str) -> None:
    from rich.syntax import Syntax

    from srdistill.engine.build import build
    from srdistill.engine.paths import check_paths
    from srdistill.engine.plan import describe

    check_paths(spec, checkpoints=True, before_training=True)
    parts = build(spec, "train", judges=True)  # checked as training would check it, before anything is shown
    console.out.print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    console.out.print(describe(spec, parts))
    for warning in parts.warnings:
        console.err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.out.print(
        f"[bold]dry run[/]: fit {spec.train.fit}, {spec.train.epochs} epochs, batch {spec.train.batch_size}, "
        f"device {parts.device}, run folder {spec.run_dir}. Nothing was written."
    )


@app.command()
def compare(
    recipe: RecipeArg,
    set_: SetOpt = None,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the table as JSON here.")] = None,
    judge: Annotated[
        list[str] | None,
        typer.Option(
            help="Add a judge: NAME={teacher section as YAML}, e.g. "
            "--judge 'r18={type: timm, model: resnet18, weights: r18.safetensors}' (repeatable).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Table 1 of the paper for RECIPE's test split: original, bilinear, bicubic and each checkpoint;
    with judges, also a matrix of every method's top-1 under every judge; with routes, a table of SR rows
    each read by a classifier of its own (an LR-trained classifier, a joint fit's)."""
    try:
        from srdistill.checkpoints import write_json
        from srdistill.engine.compare import compare as run_compare
        from srdistill.recipe import load_recipe
        from srdistill.reporting.tables import judges_table, recovered_lines, routes_table, rows_table, rows_to_json

        load_registries()
        spec = load_recipe(recipe, set_ or [], judge or [])
        done = run_compare(spec, console.err)
        rows = done.rows
        console.out.print(rows_table(rows, f"{spec.name}: test split"))
        for line in recovered_lines(rows):
            console.out.print(line)
        if done.judges:
            console.out.print(judges_table(done.judges, f"{spec.name}: judges"))
        if spec.compare.routes:
            console.out.print(
                routes_table(done.routes, f"{spec.name}: routes (an SR row and the classifier reading it)")
            )
        if json_path is not None:
            write_json(json_path, rows_to_json(rows, done.judges, done.routes))
            console.out.print(f"wrote {json_path}")
    except UserError as e:
        fail(e)


@app.command()
def report(
    target: Annotated[
        Path, typer.Argument(help="A recipe (e.g. recipes/fmnist_darionet.yaml) or a run folder.", show_default=False)
    ],
    set_: SetOpt = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Folder for the PNGs and report.html; default <run>/report.")
    ] = None,
    method: Annotated[
        str | None, typer.Option(help="Method whose per-class changes are shown; default the last checkpoint.")
    ] = None,
) -> None:
    """Pictures of a run, as the paper's figures: curves, per-class changes, reconstructions; one HTML page."""
    try:
        from srdistill.recipe import load_recipe
        from srdistill.reporting.report import make_report, recipe_for

        load_registries()
        path, _ = recipe_for(target)
        spec = load_recipe(path, set_ or [])
        done = make_report(spec, out_dir or spec.run_dir / "report", console.err, method)
    except UserError as e:
        fail(e)
    for figure in done.figures:
        console.out.print(f"wrote {figure}")
    console.out.print(f"wrote {done.html} (self-contained: open it in a browser)")


app.command()(study)
app.command()(upscale)
app.command()(export)


@app.command("list")
def list_(
    kind: Annotated[
        str | None,
        typer.Argument(help="Only this registry: students, teachers, degradations, losses, datasets, metrics."),
    ] = None,
) -> None:
    """Show every registered component: what a recipe's `type:` can name."""
    from rich.table import Table

    from srdistill.registry import did_you_mean

    registries = load_registries().registries()
    if kind is not None and kind not in registries:
        fail(
            UserError(
                f"No registry '{kind}'.{did_you_mean(kind, list(registries))}",
                f"Use one of: {', '.join(registries)}.",
            )
        )
    for name, registry in registries.items():
        if kind is not None and name != kind:
            continue
        table = Table(title=f"{name} ({len(registry)})", title_justify="left", show_lines=False)
        table.add_column("type", style="bold cyan")
        table.add_column("description")
        table.add_column("from", style="dim")
        for entry in registry:
            table.add_row(entry.name, entry.summary, entry.source)
        console.out.print(table)


app.add_typer(weights_app)


app.command("shards")(shards)


def main() -> None:
    try:
        app()
    except UserError as e:  # raised outside a command (should not happen, but never show a traceback)
        console.err.print(f"error: {e}")
        sys.exit(1)

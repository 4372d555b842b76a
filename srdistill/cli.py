"""The ``srdistill`` command line.

This module imports only typer and rich; torch, timm and basicsr are imported inside the
commands that need them, so ``srdistill --help`` stays fast.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from srdistill import __version__
from srdistill.cli_shards import shards
from srdistill.cli_weights import weights_app
from srdistill.errors import Stopped, UserError
from srdistill.ui import console
from srdistill.ui.console import fail

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


def load_registries():  # type: ignore[no-untyped-def]
    """The registries, with plugin problems shown once as warnings (never a crash)."""
    import warnings

    from srdistill.catalog import catalog
    from srdistill.plugins import PluginWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PluginWarning)  # printed below, in colour
        cat = catalog()
    for problem in cat.problems:
        console.err.print(f"[yellow]warning:[/] {problem}", highlight=False)
    return cat


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
        from srdistill.engine.trainer import train as run_training

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

    from srdistill.engine.build import build, check_paths
    from srdistill.engine.plan import describe

    check_paths(spec, checkpoints=True, before_training=True)
    console.out.print(Syntax(text, "yaml", theme="ansi_dark", background_color="default"))
    parts = build(spec, "train", judges=True)
    console.out.print(describe(spec, parts))
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
    with judges, also a matrix of every method's top-1 under every judge."""
    try:
        from srdistill.engine.compare import compare as run_compare
        from srdistill.engine.compare import judges_table, recovered_top1, rows_table, rows_to_json
        from srdistill.recipe import load_recipe

        load_registries()
        spec = load_recipe(recipe, set_ or [], judge or [])
        done = run_compare(spec, console.err)
        rows = done.rows
        console.out.print(rows_table(rows, f"{spec.name}: test split"))
        for method, fraction in recovered_top1(rows).items():
            console.out.print(
                f"{method}: recovers {fraction:.3f} of the top-1 lost by bicubic (SR − bicubic)/(original − bicubic)"
            )
        if done.judges:
            console.out.print(judges_table(done.judges, f"{spec.name}: judges"))
        if json_path is not None:
            try:
                json_path.parent.mkdir(parents=True, exist_ok=True)
                json_path.write_text(json.dumps(rows_to_json(rows, done.judges), indent=2) + "\n", encoding="utf-8")
            except OSError as e:
                raise UserError(f"Cannot write {json_path}: {e.strerror}.", "Choose a writable --json path.") from None
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


@app.command()
def upscale(
    checkpoint: Annotated[
        Path,
        typer.Argument(
            help="Student checkpoint (runs/<name>/best.safetensors, or an ESRGAN/BasicSR .pth).", show_default=False
        ),
    ],
    source: Annotated[
        Path, typer.Argument(help="An image, or a folder of images (searched recursively).", show_default=False)
    ],
    target: Annotated[Path, typer.Argument(help="Output file or folder (file names are kept).", show_default=False)],
    tile: Annotated[
        int | None,
        typer.Option(
            help="Input pixels per tile side. Default: the largest that fits in a share of the free memory "
            "(GPU, else RAM), printed at the start. Small tiles are slow, as each recomputes its overlap "
            "(64 takes about 3× as long on a CPU); lower it only if you run out of memory.",
            show_default="automatic",
        ),
    ] = None,
    overlap: Annotated[int, typer.Option(help="Context pixels around each tile, cropped away after.")] = 16,
    scale: Annotated[
        float | None, typer.Option(help="Output size ÷ input size; default: the network's own (×4).")
    ] = None,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda or cuda:N.")] = "auto",
    precision: Annotated[
        Literal["auto", "fp32", "bf16", "fp16"],
        typer.Option(help="Number format the network runs in: auto is fp16 on CUDA (tensor cores), fp32 elsewhere."),
    ] = "auto",
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Redo outputs that exist already (default: skip and count them).")
    ] = False,
) -> None:
    """Super-resolve images of any size with a trained student.

    Never writes into the input folder. Existing outputs are skipped, so a rerun completes an interrupted run.
    A 1-channel student upscales colour photos on their luma (Y), their colour (Cb, Cr) bicubic.
    """
    try:
        from srdistill.engine.devices import select_device
        from srdistill.inference.student import load_student
        from srdistill.inference.upscale import check_tiling, upscale_files
        from srdistill.students.metadata import check_student_metadata

        check_tiling(tile, overlap, scale)
        check_student_metadata(checkpoint)
        student, channels = load_student(checkpoint)
        result = upscale_files(
            student, channels, source, target, select_device(device), console.err, tile, overlap, scale, overwrite,
            precision,
        )  # fmt: skip
    except UserError as e:
        fail(e)
    _upscale_summary(result, channels, target)


def _upscale_summary(result, channels: int, target: Path) -> None:  # type: ignore[no-untyped-def]
    from srdistill.inference.colour import ColourPath

    console.out.print(f"wrote {len(result.written)} images to {target}")
    if result.existing:
        console.out.print(f"skipped {len(result.existing)} images whose output exists (--overwrite redoes them)")
    if result.colour[ColourPath.LUMA]:
        console.err.print(
            f"[yellow]note:[/] the student is greyscale (1 channel): {result.colour[ColourPath.LUMA]} colour "
            "images were super-resolved on their luma (Y), their colour (Cb, Cr) upscaled bicubic. "
            "For a colour student see recipes/rgb_folder_pixel.yaml.",
            highlight=False,
        )
    if result.colour[ColourPath.GREY_AS_RGB]:
        console.err.print(
            f"[yellow]note:[/] the student is RGB (3 channels): {result.colour[ColourPath.GREY_AS_RGB]} greyscale "
            "images were fed to it as grey RGB and saved greyscale. A 1-channel student fits greyscale images.",
            highlight=False,
        )
    if result.bad:
        console.err.print(f"[yellow]skipped {len(result.bad)} unreadable files:[/]")
        for path, why in result.bad[:20]:
            console.err.print(f"  {path}: {why}", highlight=False)
        if not result.written and not result.existing:
            raise typer.Exit(1)


@app.command()
def export(
    checkpoint: Annotated[Path, typer.Argument(help="Student checkpoint to export.", show_default=False)],
    out_path: Annotated[
        Path,
        typer.Argument(help="Output path without extension: writes OUT.safetensors and OUT.onnx.", show_default=False),
    ],
    onnx: Annotated[
        bool, typer.Option("--onnx/--no-onnx", help="Also write ONNX and check it against PyTorch.")
    ] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace OUT.safetensors / OUT.onnx.")] = False,
) -> None:
    """Export a trained student to safetensors (config in its metadata) and ONNX, with a parity check."""
    try:
        from srdistill.inference.export import export as run_export
        from srdistill.inference.student import load_student
        from srdistill.students.metadata import check_student_metadata

        check_student_metadata(checkpoint)
        student, channels = load_student(checkpoint)
        done = run_export(student, channels, checkpoint, out_path, onnx=onnx, overwrite=overwrite)
    except UserError as e:
        fail(e)
    console.out.print(f"wrote {done.weights} (weights, with the student's config as metadata)")
    if done.onnx is not None:
        console.out.print(f"wrote {done.onnx} (input 'lr' (batch, {channels}, height, width) → output 'sr')")
        if done.external_data is not None:
            console.out.print(
                f"[yellow]note:[/] the weights are over the 2 GB one ONNX file can hold: they are in "
                f"{done.external_data}, which must stay beside {done.onnx.name} (copy both)."
            )
        else:
            console.out.print(f"{done.onnx.name} is self-contained (weights inside): copy it alone.")
        ok = done.max_abs_diff is not None and done.max_abs_diff < 1e-4
        console.out.print(
            f"parity: ONNX Runtime vs PyTorch on a random {done.input_shape} input: "
            f"max |Δ| = {done.max_abs_diff:.2e} " + ("[green]ok[/]" if ok else "[red]MISMATCH[/]")
        )
        if not ok:
            raise typer.Exit(1)


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

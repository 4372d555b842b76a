"""``srdistill upscale`` and ``srdistill export``: what a trained student is for (imports torch only when run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from srdistill.errors import UserError
from srdistill.ui import console
from srdistill.ui.console import fail


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

        check_tiling(tile, overlap, scale)
        student, channels = load_student(checkpoint)
        chosen = select_device(device, "--device")
        result = upscale_files(student, channels, source, target, chosen, console.err, tile=tile,
                               overlap=overlap, scale=scale, overwrite=overwrite, precision=precision)  # fmt: skip
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

        student, channels = load_student(checkpoint)
        done = run_export(student, channels, checkpoint, out_path, onnx=onnx, overwrite=overwrite)
    except UserError as e:
        fail(e)
    console.out.print(f"wrote {done.weights} (weights, with the student's config as metadata)")
    for warning in done.warnings:
        console.err.print(f"[yellow]warning:[/] {warning}", highlight=False)
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

"""``srdistill shards``: pack an image folder into WebDataset shards (imports torch only when run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def shards(
    source: Annotated[
        Path, typer.Argument(help="A class-folder tree SOURCE/<class>/<image> (imagenet/train).", show_default=False)
    ],
    prefix: Annotated[
        Path, typer.Argument(help="Output prefix: writes PREFIX-000000.tar, PREFIX-000001.tar, …", show_default=False)
    ],
    max_count: Annotated[int, typer.Option(min=1, help="Images per shard, at most.")] = 1000,
    max_size_mb: Annotated[float, typer.Option(min=1, help="Megabytes per shard (one image may go over).")] = 1024,
    shuffle: Annotated[bool, typer.Option("--shuffle/--no-shuffle", help="Mix classes across shards.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the shuffle.")] = 0,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace shards of the same prefix.")] = False,
    classes_from: Annotated[
        Path | None,
        typer.Option(help="The training split's folder: its classes number this split's (pack val/ and test/ so)."),
    ] = None,
) -> None:
    """Pack an ImageNet-style class-folder tree into WebDataset tar shards, for the `shards` data set."""
    from srdistill.errors import UserError
    from srdistill.ui import console
    from srdistill.ui.console import fail

    def progress(done: int, total: int) -> None:
        if done % 5000 == 0 or done == total:
            console.err.print(f"packed {done}/{total} images", highlight=False)

    try:
        from srdistill.data.shard_writer import pack

        done = pack(
            source, prefix, max_count=max_count, max_bytes=int(max_size_mb * 2**20), shuffle=shuffle, seed=seed,
            overwrite=overwrite, classes_from=classes_from, progress=progress,
        )  # fmt: skip
    except UserError as e:
        fail(e)
    console.out.print(
        f"wrote {len(done.shards)} shards, {done.samples} images of {done.classes} classes: {done.pattern}"
    )

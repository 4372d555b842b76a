"""``srdistill weights``: list the named weights and fill their caches ahead of time."""

from __future__ import annotations

from typing import Annotated

import typer

weights_app = typer.Typer(
    name="weights",
    help="Named pretrained weights: list them, fetch them into their caches (for machines without internet).",
    no_args_is_help=True,
)


@weights_app.command("list")
def list_weights() -> None:
    """The student releases (torch's hub cache) and the hf-hub repos cached, with where each file is."""
    from rich.table import Table

    from srdistill.hf_hub import cached_hf_repos, hf_cache_dir
    from srdistill.ui import console
    from srdistill.weights import RELEASES, cached_state, checkpoints_dir

    folder = checkpoints_dir()
    table = Table(title=f"student releases (cache: {folder})", title_justify="left")
    for column in ("name", "cached", "sha256", "url", "what"):
        table.add_column(column, style="bold cyan" if column == "name" else None, overflow="fold")
    damaged = []
    for rel in RELEASES.values():
        cached = cached_state(rel)  # each cached file is hashed: a damaged copy is not "yes"
        damaged += [rel] if cached == "damaged" else []
        table.add_row(rel.name, "[red]damaged[/]" if cached == "damaged" else cached, rel.sha256, rel.url, rel.note)
    console.out.print(table)
    for rel in damaged:
        console.out.print(
            f"[red]{folder / rel.filename}[/] has another SHA-256 than {rel.name}: delete it and run "
            f"`srdistill weights fetch {rel.name}`.",
            highlight=False,
        )
    repos = cached_hf_repos()
    listed = "\n".join(f"  {r}" for r in repos) if repos else "  (none)"
    console.out.print(f"hf-hub repos in the Hugging Face cache ({hf_cache_dir()}):\n{listed}", highlight=False)
    console.out.print(
        "Teachers name any hub repo (teacher.weights: hf-hub:<org>/<repo>) or timm's own weights "
        "(teacher.pretrained: true); `srdistill weights fetch NAME` caches one ahead of time.",
        highlight=False,
    )


@weights_app.command("fetch")
def fetch_weights(
    names: Annotated[
        list[str],
        typer.Argument(
            help="Release names (RealESRGAN_x4plus, ...) or hf-hub:<org>/<repo> (e.g. hf-hub:timm/resnet50.tv_in1k).",
            show_default=False,
        ),
    ],
) -> None:
    """Download NAMES into their caches (verified against their SHA-256), or check the cached copies."""
    from srdistill.errors import UserError
    from srdistill.ui import console
    from srdistill.ui.console import fail
    from srdistill.weights import fetch, sha256_of

    try:
        for name in names:
            path = fetch(name)
            console.out.print(f"{name}: {path} (sha256 {sha256_of(path)})", highlight=False)
    except UserError as e:
        fail(e)

"""``srdistill study``: every route on the user's data, for several seeds, at one budget (imports torch when run)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import typer

from srdistill.errors import Stopped, UserError
from srdistill.ui import console
from srdistill.ui.console import fail, load_registries


def study(
    recipe: Annotated[Path, typer.Argument(help="Study recipe, e.g. recipes/study_fmnist.yaml.", show_default=False)],
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            "-s",
            help="Override a study field, e.g. --set base.data.root=/data (repeatable).",
            show_default=False,
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and count every run, print them, and exit; nothing is written.")
    ] = False,
    json_path: Annotated[Path | None, typer.Option("--json", help="Also write the study's JSON here.")] = None,
    dispatch: Annotated[
        Literal["local", "submitit"],
        typer.Option(help="local: one run after another here; submitit: jobs through submitit (pip install submitit)."),
    ] = "local",
    submitit_folder: Annotated[
        Path | None, typer.Option(help="submitit's folder for job logs; default <study>/submitit.")
    ] = None,
    cluster: Annotated[
        str | None,
        typer.Option(help="submitit's cluster: slurm, local or debug; default: slurm where sbatch exists, else local."),
    ] = None,
) -> None:
    """Train every route of STUDY for each seed at one budget, compare them, and recommend one: a table of
    mean ± std, the gaps larger than the spread, a picture of top-1 against training TFLOP, an HTML page."""
    try:
        from srdistill.study.layout import lay_out
        from srdistill.study.schema import load_study

        load_registries()
        spec = load_study(recipe, set_ or [])
        layout = lay_out(spec)
        if dry_run:
            show_plan(layout)
            return
        from srdistill.study.execute import execute
        from srdistill.study.summary import summarise

        executor = (
            make_executor(submitit_folder or spec.folder / "submitit", cluster) if dispatch == "submitit" else None
        )
        execute(layout, console.err, dispatch, executor)
        summarise(layout, console.out, json_path)
    except UserError as e:
        fail(e)
    except Stopped as e:
        console.err.print(f"[yellow]{e}[/]; finished runs are kept: the same command continues the study.")
        raise typer.Exit(e.exit_code) from None
    except KeyboardInterrupt:
        console.err.print(
            "[yellow]interrupted[/]; finished runs are kept and the run in progress keeps its latest "
            "snapshot: the same command continues the study."
        )
        raise typer.Exit(130) from None


def make_executor(folder: Path, cluster: str | None):  # type: ignore[no-untyped-def]
    """A submitit executor (AutoExecutor: SLURM where it is installed, else subprocesses of this machine)."""
    try:
        import submitit
    except ImportError:
        raise UserError(
            "--dispatch submitit needs submitit.", "pip install submitit (or: pip install srdistill[study])."
        ) from None
    return submitit.AutoExecutor(folder=folder, cluster=cluster)


def show_plan(layout) -> None:  # type: ignore[no-untyped-def]
    from rich.table import Table

    study = layout.study
    table = Table(title=f"{study.name}: every run, {study.folder}", title_justify="left")
    for col in ("seed", "run", "fit", "epochs", "steps", "train TFLOP", "charged TFLOP", "GFLOP/image", "after"):
        table.add_column(col, justify="left" if col in ("run", "fit", "after") else "right")
    for seed, runs in layout.runs.items():
        for run in runs:
            plan = layout.plans.get(run.label)
            charged = _charged(run.label, plan)
            after = ", ".join(p.name for p in run.needs) or "–"
            table.add_row(
                str(seed),
                run.label,
                run.recipe.train.fit,
                str(run.cost.epochs),
                f"{run.cost.steps:,}",
                f"{run.cost.flops / 1e12:.3g}",
                charged,
                f"{run.cost.inference_flops / 1e9:.3g}",
                after,
            )
        table.add_row(str(seed), "compare", "", "", "", "", "", "", "every run above")
    console.out.print(table)
    untrained = [name for name, p in layout.plans.items() if p.cost is None]
    if untrained:
        console.out.print(f"no training: {', '.join(untrained)} (rows of every compare)")
    from srdistill.study.report import budget_line

    console.out.print(budget_line(layout))
    console.out.print(
        f"[bold]dry run[/]: {sum(len(r) for r in layout.runs.values())} runs and {len(layout.compares)} "
        "compares checked. Nothing was written."
    )


def _charged(label: str, plan) -> str:  # type: ignore[no-untyped-def]
    """The TFLOP a run's row of the study is charged: a route's own run and its start together."""
    if label.endswith(".start"):
        return "in its routes'"
    return "listed apart" if plan is None else f"{plan.flops / 1e12:.3g}"

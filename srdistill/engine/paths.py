"""The files and folders a recipe names, checked before anything is built: the inputs must exist, and a run
must not write over the weights it starts from. (What needs the built parts is :mod:`srdistill.engine.validity`.)"""

from __future__ import annotations

from pathlib import Path

from srdistill.errors import UserError
from srdistill.recipe.schema import Recipe


def check_paths(recipe: Recipe, *, checkpoints: bool = False, before_training: bool = False) -> None:
    """Report every input file or folder the recipe names that does not exist, all at once.

    ``checkpoints`` adds compare's checkpoints; ``before_training`` leaves out those the recipe's
    own run will write.
    """
    missing = []
    named = [("data", recipe.data), ("teacher", recipe.teacher), ("student", recipe.student)]
    named += [(f"teachers.{i}.teacher", term.teacher) for i, term in enumerate(recipe.teachers)]
    named += [(f"losses.{i}", loss) for i, loss in enumerate(recipe.losses)]
    for section, cfg in named:
        if cfg is None:
            continue
        for key, value in cfg:
            if isinstance(value, Path) and not value.exists():
                missing.append(f"{section}.{key}: {value}")
    if checkpoints:
        own = recipe.run_dir.resolve()

        def absent(path: Path) -> bool:  # what the recipe's own run writes may not exist before it trains
            return not path.exists() and not (before_training and path.resolve().is_relative_to(own))

        for judge in recipe.compare.judges:
            missing += [
                f"compare.judges ({judge.name}).teacher.{key}: {value}"
                for key, value in judge.teacher
                if isinstance(value, Path) and absent(value)
            ]
        for ref in recipe.compare.checkpoints:
            paths = [("", ref.path), *((".runs", run) for run in ref.runs)]  # a str path is a release name
            missing += [
                f"compare.checkpoints ({ref.name}){key}: {p}" for key, p in paths if isinstance(p, Path) and absent(p)
            ]
        for route in recipe.compare.routes:
            paths = [(".classifier", route.classifier), *((".runs", run) for run in route.runs)]
            missing += [f"compare.routes ({route.name}){key}: {p}" for key, p in paths if absent(p)]
    if missing:
        raise UserError(
            "The recipe names paths that do not exist:\n" + "\n".join(f"  • {m}" for m in missing),
            "Fix them in the recipe or with --set (e.g. --set data.root=/path). Relative paths start at the "
            "current directory; checkpoints under runs/ are written by `srdistill train` of their recipe.",
        )


def check_outputs(recipe: Recipe) -> None:
    """A run must not write over a file it starts from, and the student and the classifier start from files
    of their own."""
    from srdistill.engine.runs import written_by_a_run

    inputs = {"teacher.weights": recipe.teacher.weights}
    if recipe.student is not None:
        inputs["student.weights"] = getattr(recipe.student, "weights", None)
    files = {k: Path(v).resolve() for k, v in inputs.items() if isinstance(v, Path)}
    run = recipe.run_dir.resolve()
    over = [f"{k}: {v}" for k, v in files.items() if v.parent == run and written_by_a_run(v.name)]
    if over:
        raise UserError(
            f"This run would write over the weights it starts from ({'; '.join(over)}): its run folder is {run}.",
            "Copy the file elsewhere, or train into another folder with --set run.dir=<folder>.",
        )
    if len(files) == 2 and len(set(files.values())) == 1:
        raise UserError(
            f"student.weights and teacher.weights are the same file ({files['teacher.weights']}): one network's "
            "weights cannot start the other.",
            "Point student.weights at an SR checkpoint and teacher.weights at a classifier's.",
        )

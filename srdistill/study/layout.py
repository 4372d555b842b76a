"""A whole study laid out before anything trains: every route planned and budgeted, every seed's runs, and
the compare that reads each seed's routes. ``--dry-run`` prints it; the study folder records it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from srdistill.engine.runs import BEST, weights_file
from srdistill.errors import UserError
from srdistill.recipe.loading import validate_recipe
from srdistill.recipe.schema import Recipe
from srdistill.study import judges
from srdistill.study.kinds import KINDS
from srdistill.study.plan import (
    CLASSIFIER,
    Cost,
    RoutePlan,
    Run,
    classifier_recipe,
    measure,
    plan_routes,
    runs_for_seed,
)
from srdistill.study.schema import StudyConfig, study_error

#: what the study folder keeps of the study it holds (a rerun with another study is refused)
STUDY_FILE = "study.json"
COMPARE_FILE = "compare.json"
#: the suffix of a joint route's SR read by the original classifier
SR_ROW = "_sr"


@dataclass(frozen=True)
class Row:
    """A row of the study's table: a route, or a joint route's SR read by the original classifier."""

    name: str
    compared_as: str  # its row in each seed's compare: a route's, a checkpoint's or a baseline's name
    reads: str  # "original classifier" or "own classifier"
    kind: str
    flops: int  # training FLOPs charged to the row
    inference_flops: int


@dataclass(frozen=True)
class Layout:
    study: StudyConfig
    plans: dict[str, RoutePlan]
    apart: dict[str, Cost]  # the shared runs' (the base classifier's fit, the judges'), by label
    runs: dict[int, list[Run]]  # by seed
    compares: dict[int, Recipe]  # by seed
    rows: list[Row]

    def identity(self) -> dict[str, Any]:
        """What makes two studies the same: the recipe and every run's recipe (a changed budget shows there)."""
        runs = {str(r.folder): r.recipe.model_dump(mode="json") for rs in self.runs.values() for r in rs}
        return {"study": self.study.model_dump(mode="json", by_alias=True), "runs": runs}


def lay_out(study: StudyConfig) -> Layout:
    """Check and count every route, then lay out each seed's runs and compare."""
    plans = plan_routes(study)
    check_names(plans)
    apart = shared_costs(study)
    base_inference = _base_inference(study) if any(p.cost is None for p in plans.values()) else 0
    runs = {seed: runs_for_seed(study, plans, seed, apart) for seed in study.seeds}
    compares = {seed: compare_recipe(study, plans, seed) for seed in study.seeds}
    return Layout(study, plans, apart, runs, compares, table_rows(plans, base_inference))


def shared_costs(study: StudyConfig) -> dict[str, Cost]:
    """The runs every route shares (the base classifier's fit and the judges'), checked and counted once."""
    seed = study.seeds[0]
    fits = {CLASSIFIER: classifier_recipe(study, seed)}
    fits |= {judges.PREFIX + j.name: judges.fit_recipe(study, j, seed) for j in study.judges if j.train is not None}
    costs = {}
    for label, recipe in fits.items():
        if recipe is None:
            continue
        try:
            costs[label] = measure(recipe)
        except UserError as e:
            raise study_error(label, e) from None
    return costs


def table_rows(plans: dict[str, RoutePlan], base_inference: int) -> list[Row]:
    rows = []
    for name, plan in plans.items():
        if plan.cost is None:
            row = KINDS[plan.spec.kind].row
            assert row is not None
            rows.append(Row(name, row, "original classifier", plan.spec.kind, 0, base_inference))
            continue
        reads = "original classifier" if plan.fit == "student" else "own classifier"
        rows.append(Row(name, name, reads, plan.spec.kind, plan.flops, plan.cost.inference_flops))
        if plan.fit == "joint":
            rows.append(
                Row(
                    name + SR_ROW,
                    name + SR_ROW,
                    "original classifier",
                    plan.spec.kind,
                    plan.flops,
                    plan.cost.inference_flops,
                )
            )
    return rows


def _base_inference(study: StudyConfig) -> int:
    """The base classifier's FLOPs on one image (the rows without training: original, bicubic)."""
    raw = {**study.base, "name": "base", "train": {"fit": "teacher", "epochs": 1, "batch_size": 1}}
    if study.classifier is not None:  # its weights are a run of the study's: not there before it trains
        raw["teacher"] = {**raw.get("teacher", {}), "weights": None}
    try:
        return measure(validate_recipe(raw, "base")).inference_flops
    except UserError as e:
        raise study_error("base", e) from None


def compare_recipe(study: StudyConfig, plans: dict[str, RoutePlan], seed: int) -> Recipe:
    """The compare of one seed: every SR route through the base classifier, every classifier route through its own."""
    seed_dir = study.folder / f"seed{seed}"
    checkpoints: list[dict[str, Any]] = []
    routes: list[dict[str, Any]] = []
    for name, plan in plans.items():
        if plan.cost is None:
            continue
        folder = seed_dir / name
        start = plan.spec.start
        runs = [str(seed_dir / (f"{start}.start" if plans[start].scaled else start))] if start else []
        runs.append(str(folder))
        if plan.fit == "student":
            checkpoints.append({"name": name, "path": str(folder / BEST), "runs": runs})
        elif plan.fit == "teacher":
            routes.append({"name": name, "sr": "bicubic", "classifier": str(folder / BEST), "runs": runs})
        else:
            checkpoints.append({"name": name + SR_ROW, "path": str(folder / BEST), "runs": runs})
            routes.append(
                {
                    "name": name,
                    "sr": name + SR_ROW,
                    "classifier": str(folder / weights_file("best", "classifier", first=False)),
                    "runs": runs,
                }
            )
    raw = {k: v for k, v in study.base.items() if k != "compare"}
    raw |= {"name": f"{study.name}_compare", "seed": seed, "train": {"fit": "teacher"}}
    raw["run"] = {"dir": str(seed_dir / "compare")}
    if study.classifier is not None:
        raw.setdefault("teacher", {})["weights"] = str(seed_dir / CLASSIFIER / BEST)
    compare = study.base.get("compare", {})
    raw["compare"] = {**compare, "checkpoints": checkpoints, "routes": routes}
    raw["compare"]["judges"] = [*compare.get("judges", []), *judges.compare_entries(study, seed)]
    return validate_recipe(raw, f"the compare of seed {seed}")


def check_names(plans: dict[str, RoutePlan]) -> None:
    """A joint route's SR row must not take another route's name."""
    taken = set(plans)
    clash = [n + SR_ROW for n, p in plans.items() if p.fit == "joint" and n + SR_ROW in taken]
    if clash:
        raise UserError(
            f"The joint route's SR row would be named like another route: {', '.join(clash)}.",
            "Rename that route.",
        )


def recorded(folder: Path) -> dict[str, Any] | None:
    """The identity the study folder recorded, if any."""
    path = folder / STUDY_FILE
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        raise UserError(f"{path} is unreadable.", "Move the study folder aside and run the study again.") from None

"""A study laid out as runs: each route's recipe, its cost counted by the engine, the budget applied.

Every run is an ordinary ``srdistill train`` run in ``STUDY_DIR/seed<N>/<folder>``. A route that starts
from another route's student starts from that route's run at its recipe's budget (a run of its own,
``<route>.start``, where the study's budget changes that route's epochs), and the cost of that run is
counted in the route's.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from srdistill.engine.runs import BEST
from srdistill.errors import UserError
from srdistill.recipe.loading import apply_overrides, read_yaml, validate_recipe
from srdistill.recipe.schema import Recipe
from srdistill.study import judges
from srdistill.study.kinds import KINDS, RECIPE_KIND
from srdistill.study.schema import EqualBudget, RouteSpec, StudyConfig, TflopBudget, study_error

CLASSIFIER = "classifier"


@dataclass(frozen=True)
class Cost:
    """A run's training cost as the engine counts it, and what recognising one image costs."""

    step_flops: int  # one training step (every image of the batch, every update)
    steps_per_epoch: int
    epochs: int
    max_steps_per_epoch: int | None
    inference_flops: int

    @property
    def steps(self) -> int:
        per_epoch = min(self.max_steps_per_epoch or self.steps_per_epoch, self.steps_per_epoch)
        return per_epoch * self.epochs

    @property
    def flops(self) -> int:
        return self.step_flops * self.steps

    def with_steps(self, steps: int) -> Cost:
        """The same run trained for about ``steps`` steps (never more, at most 0.5% or one step fewer), in
        whole epochs of equal length: the longest epochs that come that close."""
        slack = max(1, steps // 200)
        for per_epoch in range(min(steps, self.steps_per_epoch), 0, -1):
            epochs = steps // per_epoch
            if epochs * per_epoch >= steps - slack:
                break
        limit = None if per_epoch == self.steps_per_epoch else per_epoch
        return replace(self, epochs=epochs, max_steps_per_epoch=limit)


@dataclass(frozen=True)
class Run:
    """One training run of a study, for one seed."""

    label: str  # a route's name, "<route>.start" or "classifier"
    seed: int
    folder: Path
    recipe: Recipe
    cost: Cost
    needs: tuple[Path, ...]  # run folders that must have finished first


@dataclass(frozen=True)
class RoutePlan:
    """A route as the study runs it: its own run (None without training) and the runs it is charged for."""

    spec: RouteSpec
    fit: str | None  # the train.fit of its run
    at_recipe: Cost | None  # its own run's, at its recipe's budget
    cost: Cost | None  # its own run's, at the study's budget
    start: Cost | None  # the run it starts from, at that route's recipe budget

    @property
    def scaled(self) -> bool:
        """Whether the study's budget changed the route's steps (its start run is then a run of its own)."""
        return self.cost != self.at_recipe

    @property
    def flops(self) -> int:
        return sum(c.flops for c in (self.cost, self.start) if c is not None)


def route_sections(study: StudyConfig, route: RouteSpec, seed: int, weights: dict[str, Path | None]) -> dict[str, Any]:
    """The recipe of ``route``'s run for ``seed``, as a mapping. ``weights`` gives the files that earlier
    runs of the study write (``classifier``, and the start route's student), or None while planning."""
    if route.kind == RECIPE_KIND:
        assert route.recipe is not None
        raw = read_yaml(route.recipe)
    else:
        kind = KINDS[route.kind]
        raw = copy.deepcopy(study.base) | kind.sections()
        if CLASSIFIER in weights:
            raw.setdefault("teacher", {})["weights"] = _text(weights[CLASSIFIER])
        if kind.from_scratch:
            raw.setdefault("teacher", {})["weights"] = None
        if kind.train is not None and kind.train.get("fit") == "teacher":
            raw.pop("student", None)  # a classifier route trains no SR network
    raw["name"], raw["seed"] = route.name, seed
    raw.setdefault("run", {})["dir"] = str(study.folder / f"seed{seed}" / route.name)
    apply_overrides(raw, study.overrides, f"route '{route.name}': the study's set")
    apply_overrides(raw, route.overrides, f"route '{route.name}' set")
    if route.start is not None:
        raw.setdefault("student", {})["weights"] = _text(weights.get(route.start))
    if route.ensemble:
        fitted = {n: weights.get(judges.PREFIX + n) for n in route.ensemble if judges.PREFIX + n in weights}
        raw["teachers"] = judges.ensemble(study, route, fitted)
    return raw


def _text(path: Path | None) -> str | None:
    return None if path is None else str(path)


def validated(route: str, raw: dict[str, Any]) -> Recipe:
    return validate_recipe(raw, f"route '{route}'")


def measure(recipe: Recipe) -> Cost:
    """Build what ``recipe`` names, as training would (every check of ``--dry-run`` included), and count its cost."""
    from srdistill.engine.build import build
    from srdistill.engine.cost import inference_flops, training_cost
    from srdistill.engine.paths import check_paths

    check_paths(recipe, checkpoints=True, before_training=True)
    parts = build(recipe, "train", judges=True)
    cost = training_cost(recipe, parts)
    sr = recipe.trains_student
    return Cost(
        cost.step_flops_per_image * cost.batch_size,
        len(parts.data.train) // recipe.train.batch_size,
        cost.epochs,
        recipe.train.max_steps_per_epoch,
        inference_flops(parts, sr),
    )


def plan_routes(study: StudyConfig) -> dict[str, RoutePlan]:
    """Every route's run checked and counted at its recipe's budget, then scaled to the study's budget."""
    plans: dict[str, RoutePlan] = {}
    for route in study.routes:
        if route.kind in KINDS and KINDS[route.kind].train is None:
            plans[route.name] = RoutePlan(route, None, None, None, None)
            continue
        planning = {judges.PREFIX + j.name: None for j in study.judges if j.train is not None}
        planning |= {CLASSIFIER: None} if study.classifier is not None else {}
        recipe = validated(route.name, route_sections(study, route, study.seeds[0], planning))
        try:
            cost = measure(recipe)
        except UserError as e:
            raise study_error(route.name, e) from None
        plans[route.name] = RoutePlan(route, recipe.train.fit, cost, cost, None)
    for name, plan in plans.items():
        if plan.spec.start is not None:
            start = plans[plan.spec.start]
            if start.fit is None or start.fit == "teacher":
                raise UserError(
                    f"route '{name}' starts from '{plan.spec.start}', which trains no SR network.",
                    "Name a route that trains a student (pixel, darionet, …) as `start:`.",
                )
            plans[name] = replace(plan, start=start.at_recipe)
    return budgeted(study, plans)


def budgeted(study: StudyConfig, plans: dict[str, RoutePlan]) -> dict[str, RoutePlan]:
    """Each trained route's steps scaled so that its FLOPs, start included, meet the study's budget."""
    budget = study.budget
    trained = {n: p for n, p in plans.items() if p.cost is not None}
    if isinstance(budget, TflopBudget):
        target = int(budget.tflop * 1e12)
    elif isinstance(budget, EqualBudget) and trained:
        if budget.route is not None and budget.route not in trained:
            raise UserError(
                f"budget: {{equal: {budget.route}}} names a route that trains nothing.",
                "Name a route that trains: its FLOPs become every trained route's.",
            )
        target = plans[budget.route].flops if budget.route else max(p.flops for p in trained.values())
    else:
        return plans
    out = dict(plans)
    for name, plan in trained.items():
        assert plan.cost is not None
        own = target - (plan.start.flops if plan.start is not None else 0)
        steps = own // plan.cost.step_flops
        if steps < 1:
            raise UserError(
                f"route '{name}': the budget of {target / 1e12:.3g} TFLOP leaves it less than one training step "
                f"(one step: {plan.cost.step_flops / 1e12:.3g} TFLOP"
                + (f"; the run it starts from already costs {plan.start.flops / 1e12:.3g})." if plan.start else ")."),
                "Raise the budget, or leave the route out of the study.",
            )
        out[name] = replace(plan, cost=plan.cost.with_steps(steps))
    return out


def classifier_recipe(study: StudyConfig, seed: int) -> Recipe | None:
    """The run that fits the base classifier for ``seed`` (``classifier:``), if the study has one."""
    if study.classifier is None:
        return None
    raw = {k: copy.deepcopy(v) for k, v in study.base.items() if k not in ("student", "compare")}
    raw |= {"name": CLASSIFIER, "seed": seed, "train": {**study.classifier.train, "fit": "teacher"}}
    raw["run"] = {"dir": str(study.folder / f"seed{seed}" / CLASSIFIER)}
    apply_overrides(raw, study.classifier.overrides, "classifier set")
    return validated(CLASSIFIER, raw)


def runs_for_seed(study: StudyConfig, plans: dict[str, RoutePlan], seed: int, apart: dict[str, Cost]) -> list[Run]:
    """The runs of one seed in the order they can train: the base classifier and the judges (their costs in
    ``apart``, by label: every route shares them), the start runs, then the routes."""
    seed_dir = study.folder / f"seed{seed}"
    runs: list[Run] = []
    weights: dict[str, Path | None] = {}
    recipe = classifier_recipe(study, seed)
    if recipe is not None:
        runs.append(Run(CLASSIFIER, seed, seed_dir / CLASSIFIER, recipe, apart[CLASSIFIER], ()))
        weights[CLASSIFIER] = seed_dir / CLASSIFIER / BEST
    for judge in study.judges:
        if judge.train is not None:
            label = judges.PREFIX + judge.name
            run = Run(
                label, seed, judges.folder(study, judge, seed), judges.fit_recipe(study, judge, seed), apart[label], ()
            )
            runs.append(run)
            weights[label] = run.folder / BEST
    needs = tuple(r.folder for r in runs if r.label == CLASSIFIER)
    starts = sorted({p.spec.start for p in plans.values() if p.spec.start is not None})
    for name in starts:
        plan = plans[name]
        assert plan.cost is not None
        folder = seed_dir / (f"{name}.start" if plan.scaled else name)
        if plan.scaled:
            raw = route_sections(study, plan.spec, seed, weights)
            raw["run"]["dir"] = str(folder)
            assert plan.at_recipe is not None
            runs.append(Run(f"{name}.start", seed, folder, validated(name, raw), plan.at_recipe, needs))
        weights[name] = folder / BEST
    for name, plan in plans.items():
        if plan.cost is None:
            continue
        raw = route_sections(study, plan.spec, seed, weights)
        raw["train"] = {**raw.get("train", {}), "epochs": plan.cost.epochs}
        if plan.cost.max_steps_per_epoch is not None:
            raw["train"]["max_steps_per_epoch"] = plan.cost.max_steps_per_epoch
        after = needs + ((Path(str(weights[plan.spec.start])).parent,) if plan.spec.start else ())
        after += tuple(
            Path(str(weights[judges.PREFIX + n])).parent for n in plan.spec.ensemble if judges.PREFIX + n in weights
        )
        runs.append(Run(name, seed, seed_dir / name, validated(name, raw), plan.cost, after))
    return _ordered(runs)


def _ordered(runs: list[Run]) -> list[Run]:
    """Runs sorted so that each comes after the runs it needs."""
    done: set[Path] = set()
    out: list[Run] = []
    pending = list(runs)
    while pending:
        ready = [r for r in pending if set(r.needs) <= done]
        if not ready:  # start chains are one deep, so this cannot happen; say so if it ever does
            raise UserError("The study's runs need each other in a circle.", "Check the routes' `start:` entries.")
        for run in ready:
            out.append(run)
            done.add(run.folder)
            pending.remove(run)
    return out

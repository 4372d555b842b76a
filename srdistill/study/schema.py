"""The study recipe: a base, the routes, the seeds and the budget (``srdistill study STUDY.yaml``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, Tag, ValidationError, field_validator, model_validator

from srdistill.errors import UserError
from srdistill.recipe.loading import RecipeError, apply_overrides, read_yaml
from srdistill.recipe.sections import NAME_PATTERN
from srdistill.settings import Settings, repeated
from srdistill.study.kinds import KINDS, RECIPE_KIND

STUDY_FIX = "Fix the keys above; recipes/studies/*.yaml are complete examples and README.md explains each key."


class RecipeBudget(Settings):
    """Each route trains for its own recipe's epochs."""

    kind: Literal["recipe"] = "recipe"


class EqualBudget(Settings):
    """Each trained route's epochs scaled so that its training FLOPs (the runs it starts from included)
    match one route's: the named one's, else the largest."""

    kind: Literal["equal"] = "equal"
    route: str | None = Field(None, description="The route whose training FLOPs every trained route gets.")


class TflopBudget(Settings):
    """Each trained route's epochs scaled so that its training FLOPs match this total."""

    kind: Literal["tflop"] = "tflop"
    tflop: float = Field(gt=0, description="Training TFLOP per route, the runs it starts from included.")


def _budget_kind(value: Any) -> str:
    return str(value.get("kind", "recipe")) if isinstance(value, dict) else str(getattr(value, "kind", "recipe"))


Budget = Annotated[
    Annotated[RecipeBudget, Tag("recipe")]
    | Annotated[EqualBudget, Tag("equal")]
    | Annotated[TflopBudget, Tag("tflop")],
    Discriminator(_budget_kind),
]


class RouteSpec(Settings):
    """One route: a shipped kind built on the base, or a recipe of the user's own."""

    name: str = Field(pattern=NAME_PATTERN, description="The route's row and its run folder, seed<N>/<name>.")
    kind: str = Field(description=f"One of {', '.join(KINDS)}, or {RECIPE_KIND} (then `recipe:` names the file).")
    recipe: Path | None = Field(None, description="kind recipe: the recipe file the route trains.")
    start: str | None = Field(
        None,
        description="The route whose trained student this one starts from (trained at its recipe's budget, "
        "its FLOPs counted in this route's).",
    )
    ensemble: dict[str, float] = Field(
        default_factory=dict,
        description="Judges of the study the route's student also trains against, with their weights (an ensemble; "
        "teacher_weight, in set:, weighs the base classifier).",
    )
    overrides: list[str] = Field(
        default_factory=list, alias="set", description="Overrides of the route's recipe, as --set takes them."
    )

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        from srdistill.registry import did_you_mean

        if kind != RECIPE_KIND and kind not in KINDS:
            raise ValueError(
                f"unknown route kind '{kind}'.{did_you_mean(kind, [*KINDS, RECIPE_KIND])} Known: "
                f"{', '.join(KINDS)}, or {RECIPE_KIND} with a recipe file"
            )
        return kind

    @model_validator(mode="after")
    def _recipe_with_its_kind(self) -> RouteSpec:
        if (self.kind == RECIPE_KIND) != (self.recipe is not None):
            raise ValueError(f"`recipe:` goes with kind {RECIPE_KIND}, and kind {RECIPE_KIND} needs one")
        if self.recipe is not None and not self.recipe.is_file():
            raise ValueError(f"recipe file not found: {self.recipe}")
        if self.start is not None and self.kind in KINDS and not KINDS[self.kind].trains_student:
            raise ValueError(f"kind {self.kind} trains no student, so it cannot start from route '{self.start}'")
        return self


class ClassifierFit(Settings):
    """The base classifier's own fit: a teacher fit on the base (``fit: teacher`` is implied)."""

    train: dict[str, Any] = Field(description="Its train section: epochs, batch_size, optimizer, …")
    overrides: list[str] = Field(
        default_factory=list, alias="set", description="Overrides of its recipe, e.g. data.train_size=null."
    )


class JudgeSpec(Settings):
    """A classifier that judges every SR row of each seed's compare, fitted on the base once per seed (with
    ``train``) or used as its weights say."""

    name: str = Field(pattern=NAME_PATTERN, description="Its column in the judges table.")
    teacher: dict[str, Any] = Field(description="Its teacher section: any registered classifier type.")
    train: dict[str, Any] | None = Field(
        None, description="Its teacher fit on the base, once per seed (fit: teacher implied); none: its weights."
    )
    overrides: list[str] = Field(default_factory=list, alias="set", description="Overrides of its fit's recipe.")


class StudyConfig(Settings):
    """Every route on one base, for each seed, at one budget."""

    name: str = Field(pattern=NAME_PATTERN)
    dir: Path | None = Field(None, description="The study folder; default studies/<name>.")
    seeds: list[int] = Field(min_length=1, description="Each route is trained once per seed.")
    budget: Budget = Field(RecipeBudget(), description="recipe, equal, {equal: ROUTE} or {tflop: N}.")
    classifier: ClassifierFit | None = Field(
        None,
        description="A teacher fit on the base, run once per seed; its best weights become the base classifier's, "
        "and its cost is listed apart (every route shares it). Default: the base teacher's own weights.",
    )
    overrides: list[str] = Field(
        default_factory=list,
        alias="set",
        description="Overrides of every route's recipe (before the route's own set), e.g. train.num_workers=8.",
    )
    full_size_tolerance: float = Field(
        1.0,
        ge=0,
        description="Points of top-1 on the originals a route's classifier may lose and still count as serving "
        "full-size images too (the recommendation's third line).",
    )
    judges: list[JudgeSpec] = Field(
        default_factory=list, description="Classifiers that judge every SR row (does a gain transfer to them?)."
    )
    base: dict[str, Any] = Field(description="The recipe sections every route shares: data, degradation, teacher, …")
    routes: list[RouteSpec] = Field(min_length=1)

    @property
    def folder(self) -> Path:
        return self.dir if self.dir is not None else Path("studies") / self.name

    @field_validator("budget", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``recipe``, ``equal``, ``{equal: ROUTE}``, ``{tflop: N}`` or a bare number of TFLOP."""
        if value in ("recipe", "equal"):
            return {"kind": value}
        if isinstance(value, int | float) and not isinstance(value, bool):
            return {"kind": "tflop", "tflop": value}
        if isinstance(value, dict) and "kind" not in value and len(value) == 1:
            [(key, arg)] = value.items()
            return {"kind": key, "route" if key == "equal" else key: arg}
        return value

    @field_validator("seeds")
    @classmethod
    def _distinct(cls, seeds: list[int]) -> list[int]:
        twice = repeated(seeds)
        if twice:
            raise ValueError(f"each seed once: {', '.join(map(str, twice))} repeated (its runs would share a folder)")
        return seeds

    @field_validator("base")
    @classmethod
    def _sections_only(cls, base: dict[str, Any]) -> dict[str, Any]:
        owned = sorted({"name", "seed", "run", "train", "losses"} & set(base))
        if owned:
            raise ValueError(f"{', '.join(owned)}: the study sets these for each run; leave them out of base")
        return base

    @model_validator(mode="after")
    def _routes_agree(self) -> StudyConfig:
        names = [r.name for r in self.routes]
        lowered = [n.lower() for n in names]
        twice = sorted(n for n in names if n.lower() in repeated(lowered))
        if twice:
            raise ValueError(f"two routes would write one folder: {', '.join(twice)} (route names must differ)")
        if "classifier" in lowered:
            raise ValueError("'classifier' is the folder of the base classifier's run; name the route otherwise")
        for route in self.routes:
            if route.start is not None and route.start not in names:
                raise ValueError(f"route '{route.name}' starts from '{route.start}', which is not a route")
            if route.start == route.name:
                raise ValueError(f"route '{route.name}' cannot start from itself")
        starts = {r.name: r.start for r in self.routes}
        for route in self.routes:
            if route.start is not None and starts.get(route.start) is not None:
                raise ValueError(
                    f"route '{route.name}' starts from '{route.start}', which starts from '{starts[route.start]}': "
                    "a route can start only from a route that starts from none"
                )
        judges = [j.name for j in self.judges]
        if repeated(judges):
            raise ValueError(f"judges: names must differ; used more than once: {', '.join(repeated(judges))}")
        for route in self.routes:
            unknown = sorted(set(route.ensemble) - set(judges))
            if unknown:
                raise ValueError(f"route '{route.name}': ensemble names {', '.join(unknown)}, not judges of the study")
        equal = self.budget.route if isinstance(self.budget, EqualBudget) else None
        if equal is not None and equal not in names:
            raise ValueError(f"budget: {{equal: {equal}}} names no route; routes: {', '.join(names)}")
        return self


def load_study(path: Path, overrides: Sequence[str] = ()) -> StudyConfig:
    """Read, override (``--set base.data.root=...``) and validate a study recipe; every problem at once."""
    if not path.is_file():
        raise UserError(
            f"Study recipe not found: {path}", "Check the path; the shipped studies are in recipes/studies/."
        )
    raw = read_yaml(path)
    apply_overrides(raw, overrides, str(path))
    try:
        return StudyConfig.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = list(err["loc"])
            if loc[:1] == ["budget"] and len(loc) > 2:  # ("budget", <its kind>, field): the kind is pydantic's tag
                del loc[1]
            where = ".".join(str(p) for p in loc)
            problems.append(f"{where or '(top level)'}: {err['msg'].removeprefix('Value error, ')}")
        raise RecipeError(str(path), problems, STUDY_FIX) from None


def study_error(route: str, error: UserError) -> UserError:
    """A problem of one route's run, named by the route (a recipe's --set is the study's --set base.…)."""
    fix = error.fix
    if fix is not None and "--set" in fix:
        fix += " In a study, the shared sections are the base's: --set base.data.root=/path."
    where = "base" if route == "base" else f"route '{route}'"
    return UserError(f"{where}: {error.problem}", fix)

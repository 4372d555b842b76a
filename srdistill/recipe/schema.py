"""The recipe schema: the :class:`Recipe` model and its assembly from the registries.

The fixed sections are in :mod:`srdistill.recipe.sections` and :mod:`srdistill.recipe.train`. The
component sections (``data``, ``degradation``, ``teacher``, ``student``, ``losses``) are discriminated
unions on ``type`` over the config classes of the matching registry, built by :func:`recipe_model`
once the registries are filled.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Union

from pydantic import Field, create_model, model_validator

from srdistill.catalog import Catalog, catalog
from srdistill.data.base import DatasetConfig
from srdistill.losses.base import WeightedConfig
from srdistill.recipe.sections import (
    NAME_PATTERN,
    CompareConfig,
    EnsembleMember,
    JudgeConfig,
    RunConfig,
    RuntimeConfig,
    Section,
    WandbConfig,
)
from srdistill.recipe.train import FitConfig, StudentFitConfig, TeacherFitConfig
from srdistill.registry import ComponentConfig
from srdistill.settings import repeated
from srdistill.students.base import StudentConfig
from srdistill.teachers.base import TeacherConfig

#: recipe section -> registry attribute of :class:`~srdistill.catalog.Catalog`
COMPONENT_SECTIONS = {
    "data": "datasets",
    "degradation": "degradations",
    "teacher": "teachers",
    "student": "students",
    "losses": "losses",
}
#: the name of the recipe's ``teacher`` among an ensemble's members
MAIN_TEACHER = "teacher"


class Recipe(Section):
    """A whole run: what to load, what to build, how to train and evaluate it."""

    name: str = Field(pattern=NAME_PATTERN, description="Run name; also the default run folder.")
    seed: int = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$", description="auto picks CUDA when present.")
    run: RunConfig = RunConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    data: DatasetConfig
    degradation: ComponentConfig
    teacher: TeacherConfig
    teacher_weight: float = Field(1.0, ge=0, description="Weight of `teacher`'s loss terms when `teachers` is set.")
    teachers: list[EnsembleMember] = Field(
        default_factory=list,
        description="Further teachers to train the student against (an ensemble): every loss term that needs a "
        "teacher is applied per teacher and summed with the weights; the monitor is their weighted mean.",
    )
    student: StudentConfig | None = None
    losses: list[WeightedConfig] = Field(default_factory=list)
    train: FitConfig = StudentFitConfig()
    compare: CompareConfig = CompareConfig()
    wandb: WandbConfig | None = Field(None, description="Also log to Weights & Biases (pip install srdistill[wandb]).")

    @property
    def run_dir(self) -> Path:
        return self.run.dir if self.run.dir is not None else Path("runs") / self.name

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        """What the recipe's text alone decides; everything that needs built parts is in engine.validity."""
        if self.trains_student:
            fit = self.train.fit
            if self.student is None:
                raise ValueError(f"train.fit is '{fit}' but the recipe has no student section")
            if not self.losses:
                raise ValueError(f"train.fit is '{fit}' but losses is empty; add e.g. `- type: logit_mse`")
            if sum(loss.weight for loss in self.losses) == 0:
                names = ", ".join(loss.type for loss in self.losses)
                raise ValueError(
                    f"Every loss has weight 0 ({names}): the student would not learn; give one a weight > 0"
                )
        if self.teachers and not isinstance(self.train, StudentFitConfig):
            raise ValueError(
                f"teachers (an ensemble) trains a student against frozen classifiers; train.fit: {self.train.fit} "
                "uses none"
            )
        names = [MAIN_TEACHER, *(t.name for t in self.teachers)]
        twice = repeated(names)
        if twice:
            raise ValueError(f"teachers: names must differ (and not be '{MAIN_TEACHER}'); repeated: {', '.join(twice)}")
        if not self.teachers and self.teacher_weight != 1.0:
            raise ValueError("teacher_weight weighs `teacher` against `teachers`, but teachers is empty")
        if self.teachers and self.teacher_weight + sum(t.weight for t in self.teachers) <= 0:
            raise ValueError("teacher_weight and teachers[].weight add up to 0; give at least one teacher a weight > 0")
        return self

    def teacher_weights(self) -> dict[str, float]:
        """Every ensemble member's weight by name: ``teacher`` first, then ``teachers`` in order."""
        return {MAIN_TEACHER: self.teacher_weight} | {t.name: t.weight for t in self.teachers}

    @property
    def trains_student(self) -> bool:
        """Whether the run trains the student (a student or a joint fit)."""
        return not isinstance(self.train, TeacherFitConfig)

    @property
    def trains_classifier(self) -> bool:
        """Whether the run trains the classifier the recipe's ``teacher`` section describes (a teacher or a
        joint fit); otherwise it stays frozen."""
        return not isinstance(self.train, StudentFitConfig)


def _union(configs: list[type[ComponentConfig]]) -> Any:
    if len(configs) == 1:
        return configs[0]
    return Annotated[Union[tuple(configs)], Field(discriminator="type")]  # noqa: UP007


def _with_chain_steps(configs: list[type[ComponentConfig]]) -> list[type[ComponentConfig]]:
    """The degradation configs, with ``chain``'s steps typed as any other registered degradation."""
    from srdistill.degradations.chain import ChainConfig

    steps = [c for c in configs if not issubclass(c, ChainConfig)]
    out = []
    for config in configs:
        if issubclass(config, ChainConfig) and steps:
            config = create_model(config.__name__, __base__=config, steps=(list[_union(steps)], Field(min_length=1)))  # type: ignore[valid-type]
        out.append(config)
    return out


def recipe_model(cat: Catalog | None = None) -> type[Recipe]:
    """The :class:`Recipe` model whose component sections accept every registered type."""
    return _recipe_model(cat or catalog())


@cache
def _recipe_model(cat: Catalog) -> type[Recipe]:
    regs = cat.registries()
    configs = {section: regs[attr].configs() for section, attr in COMPONENT_SECTIONS.items()}
    configs["degradation"] = _with_chain_steps(configs["degradation"])
    unions = {section: _union(found) for section, found in configs.items()}
    default_degradation = regs["degradations"].get("bicubic").config
    assert default_degradation is not None
    loss_item = unions["losses"]
    judge = create_model("JudgeConfig", __base__=JudgeConfig, teacher=(unions["teacher"], ...))
    member = create_model("EnsembleMember", __base__=EnsembleMember, teacher=(unions["teacher"], ...))
    compare = create_model("CompareConfig", __base__=CompareConfig, judges=(list[judge], Field(default_factory=list)))  # type: ignore[valid-type]
    return create_model(
        "Recipe",
        __base__=Recipe,
        data=(unions["data"], ...),
        degradation=(
            unions["degradation"],
            Field(default_factory=lambda: default_degradation(type="bicubic")),
        ),
        teacher=(unions["teacher"], ...),
        teachers=(list[member], Field(default_factory=list)),  # type: ignore[valid-type]
        student=(unions["student"] | None, None),
        losses=(list[loss_item], Field(default_factory=list)),  # type: ignore[valid-type]
        compare=(compare, Field(default_factory=compare)),
    )

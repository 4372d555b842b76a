"""The recipe schema.

The fixed sections (``run``, ``train``, ``compare``) are plain pydantic models. The component
sections (``data``, ``degradation``, ``teacher``, ``student``, ``losses``) are discriminated
unions on ``type`` over the config classes of the matching registry, built by
:func:`recipe_model` once the registries are filled.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, Tag, create_model, field_validator, model_validator

from srdistill.catalog import Catalog, catalog
from srdistill.data.base import DatasetConfig
from srdistill.losses.base import WeightedConfig
from srdistill.methods import RESERVED
from srdistill.registry import ComponentConfig
from srdistill.settings import Settings
from srdistill.students.base import StudentConfig
from srdistill.teachers.base import TeacherConfig
from srdistill.weights import student_weights

#: recipe section -> registry attribute of :class:`~srdistill.catalog.Catalog`
COMPONENT_SECTIONS = {
    "data": "datasets",
    "degradation": "degradations",
    "teacher": "teachers",
    "student": "students",
    "losses": "losses",
}
DEFAULT_METRICS = ("top1", "top5", "ce", "logit_mse", "agreement", "psnr", "ssim")
#: what validation computes each epoch by default, by ``train.fit``
STUDENT_VAL_METRICS = (*DEFAULT_METRICS, "ce_gap")
TEACHER_VAL_METRICS = ("top1", "top5", "ce")
#: what compare reports for every judge and method (besides the recovered fraction)
JUDGE_METRICS = ("top1", "top5", "ce", "agreement")


class Section(Settings):
    """A fixed recipe section."""


class RunConfig(Section):
    dir: Path | None = Field(None, description="Run folder; default runs/<name>. Relative to the working directory.")


class RuntimeConfig(Section):
    channels_last: bool = Field(
        True,
        description="Channels-last memory format for student and teacher (about 2× faster convolutions on CPU).",
    )
    amp: Literal["none", "bf16"] = Field(
        "none", description="bf16 autocast for the forward passes (CUDA; also works on CPU). Losses stay float32."
    )
    tf32: bool = Field(True, description="Allow TF32 matmuls and convolutions on CUDA (Ampere and newer).")
    compile: Literal["none", "regional", "default", "max-autotune-no-cudagraphs"] = Field(
        "none",
        description="torch.compile the student and the teacher: regional compiles each block a network repeats "
        "(RRDB's 23 blocks, ResNet's bottlenecks) once and reuses it; default and max-autotune-no-cudagraphs compile "
        "whole models in that torch.compile mode (slower start). Older recipes' true/false mean default/none.",
    )
    deterministic: bool = Field(
        False,
        description="CUDA: deterministic cuDNN kernels and no cuDNN autotuning (which picks the fastest kernel per "
        "input size, sizes being fixed within a run). Some non-cuDNN kernels, e.g. the bicubic resize's backward, "
        "remain nondeterministic.",
    )
    cache_teacher: bool = Field(
        False,
        description="Student fit: compute the frozen teacher's logits on each training original once (first "
        "epoch) and reuse them; needs a classifier teacher and logit-only losses. Costs 4 bytes × classes per image "
        "of device memory; a resumed run recomputes them (equal up to float rounding).",
    )

    @field_validator("compile", mode="before")
    @classmethod
    def _old_boolean(cls, value: object) -> object:
        """``compile: true`` (the one choice older recipes had) keeps meaning whole-model default compile."""
        if isinstance(value, bool):
            return "default" if value else "none"
        return value


class OptimizerConfig(Section):
    name: str = Field("adamw", description="Any optimizer timm.optim.create_optimizer_v2 knows (adam, adamw, sgd…).")
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    momentum: float = Field(0.9, ge=0, description="For SGD-like optimizers.")
    fused: bool | None = Field(
        None,
        description="Fused optimizer kernel (torch adam, adamw, sgd): one kernel for all weights, and non-finite "
        "steps are skipped on the device without a host read. Default: on where the optimizer has one.",
    )

    @field_validator("name")
    @classmethod
    def _known_optimizer(cls, name: str) -> str:
        from timm.optim import list_optimizers

        from srdistill.registry import did_you_mean

        known = list_optimizers()
        if name.lower() not in known:
            raise ValueError(
                f"unknown optimizer '{name}'.{did_you_mean(name.lower(), known)} Common: adamw, adam, sgd, "
                "lamb, lion; all: timm.optim.list_optimizers()"
            )
        return name.lower()


class SchedulerConfig(Section):
    name: Literal["cosine", "step", "multistep", "poly", "tanh", "none"] = Field(
        "cosine", description="timm scheduler, stepped every update; none keeps lr constant."
    )
    warmup_epochs: float = Field(0.0, ge=0)
    warmup_lr: float = Field(1e-6, ge=0)
    min_lr: float = Field(0.0, ge=0)
    decay_epochs: float = Field(1.0, gt=0, description="step: epochs between decays.")
    decay_milestones: tuple[int, ...] = Field((), description="multistep: epochs at which lr decays.")
    decay_rate: float = Field(0.1, gt=0)


class EmaConfig(Section):
    """An exponential moving average of the trained weights (timm's ModelEmaV3)."""

    decay: float = Field(0.999, gt=0, lt=1, description="Weight of the average per step (ESRGAN's 0.999).")
    warmup: bool = Field(
        False, description="Ramp the decay up from 0 (timm's warmup: 1 − (1 + step)^−2/3), for short runs."
    )


class TrainBase(Section):
    """What every fit shares."""

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    max_steps_per_epoch: int | None = Field(None, ge=1, description="Cut epochs short (smoke tests).")
    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm to this value.")
    monitor: str | None = Field(
        None,
        description="Validation metric that picks the best epoch; default ce_gap (student: the paper's rule; "
        "logit_mse for a teacher without class outputs) or ce (teacher). Any registered metric.",
    )
    checkpoint_every: int = Field(
        0, ge=0, description="Also snapshot every this many steps (0: at epoch ends and every checkpoint_minutes)."
    )
    checkpoint_minutes: float = Field(15.0, ge=0, description="Snapshot at least this often (0: off).")
    max_nonfinite_steps: int = Field(
        10, ge=1, description="Stop after this many steps in a row with a non-finite loss (each is skipped)."
    )
    val_batch_size: int = Field(256, ge=1)
    num_workers: int = Field(0, ge=0, description="DataLoader worker processes.")
    log_every: int = Field(50, ge=1, description="Steps between progress updates (and TensorBoard loss points).")
    tensorboard: bool | None = Field(
        None, description="TensorBoard logs in the run folder; default: on when tensorboard is installed."
    )
    ema: EmaConfig | None = Field(
        None, description="Keep an average of the weights; validation, best and last then use it (off: none)."
    )

    @field_validator("monitor")
    @classmethod
    def _known_monitor(cls, name: str | None) -> str | None:
        return None if name is None else catalog().metrics.check(name)


class StudentTrain(TrainBase):
    """Train the student through the frozen teacher (SR distillation)."""

    fit: Literal["student"] = Field("student", description="student: SR training with the frozen teacher.")

    def monitor_for(self, outputs_classes: bool) -> str:
        """The monitor: the recipe's, else the paper's ce_gap (logit_mse for a teacher without classes)."""
        return self.monitor or ("ce_gap" if outputs_classes else "logit_mse")


class TeacherTrain(TrainBase):
    """Fit the teacher with cross-entropy on the originals."""

    fit: Literal["teacher"] = Field(description="teacher: fit the teacher with CE on the originals.")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    trainable: Literal["all", "head"] = Field(
        "all", description="Train every weight, or only the classifier (backbone frozen, in eval mode)."
    )
    hflip: bool = Field(False, description="Random horizontal flips of the originals.")

    @field_validator("monitor")
    @classmethod
    def _scored_on_originals(cls, name: str | None) -> str | None:
        if name is not None and catalog().metrics.get(name).build().against_original:
            raise ValueError(
                f"'{name}' compares SR with the original, but a teacher fit is validated on the originals alone; "
                "use a metric such as top1, top5 or ce"
            )
        return name

    def monitor_for(self, outputs_classes: bool) -> str:
        """The monitor: the recipe's, else cross-entropy."""
        return self.monitor or "ce"


def _fit(value: Any) -> str:
    """The ``train`` section's mode; ``fit`` may be left out for the student."""
    if isinstance(value, dict):
        return str(value.get("fit", "student"))
    return str(getattr(value, "fit", "student"))


TrainConfig = Annotated[
    Annotated[StudentTrain, Tag("student")] | Annotated[TeacherTrain, Tag("teacher")],
    Discriminator(_fit),
]
FITS = ("student", "teacher")


class CheckpointRef(Section):
    name: str = Field(description="Row name in the table.")
    path: Path | str = Field(
        description="Student checkpoint (.safetensors written by srdistill train, or a file or release name of "
        "the student's type, e.g. RRDB_ESRGAN_x4)."
    )

    _release_or_path = field_validator("path", mode="before")(student_weights)


class JudgeConfig(Section):
    """A frozen classifier that judges every method, beside the teacher the student was trained against."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="Column name in the judges matrix.")
    teacher: TeacherConfig = Field(description="Any registered teacher type, with its own weights and preprocessing.")
    label_map: tuple[Annotated[int, Field(ge=0)], ...] | None = Field(
        None,
        description="For a judge whose classes are not the data set's: its output index for each data set class, "
        "in class order (e.g. the ImageNet indices of a 10-class subset). Default: the same classes.",
    )


class CompareConfig(Section):
    checkpoints: list[CheckpointRef] = Field(default_factory=list, description="One table row each.")
    judges: list[JudgeConfig] = Field(
        default_factory=list, description="Classifiers the student was not trained against: one matrix column each."
    )
    batch_size: int = Field(256, ge=1)
    num_workers: int = Field(0, ge=0)
    metrics: tuple[str, ...] = DEFAULT_METRICS

    @field_validator("checkpoints")
    @classmethod
    def _distinct_names(cls, refs: list[CheckpointRef]) -> list[CheckpointRef]:
        seen: set[str] = set()
        for ref in refs:
            if ref.name in RESERVED:
                raise ValueError(f"'{ref.name}' names a built-in row; give the checkpoint another name")
            if ref.name in seen:
                raise ValueError(f"two checkpoints are named '{ref.name}'; row names must differ")
            seen.add(ref.name)
        return refs

    @field_validator("judges")
    @classmethod
    def _distinct_judges(cls, judges: list[JudgeConfig]) -> list[JudgeConfig]:
        names = [j.name for j in judges]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"judge names must differ; used more than once: {', '.join(twice)}")
        return judges

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(catalog().metrics.check(n) for n in names)


class TeacherTerm(Section):
    """A further teacher the student is trained against, beside ``teacher`` (a teacher ensemble)."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="Name in logs and the plan.")
    weight: float = Field(1.0, ge=0, description="Weight of this teacher's loss terms (and of its monitor value).")
    teacher: TeacherConfig = Field(description="Any registered teacher type, with its own weights and preprocessing.")


#: the name of the recipe's ``teacher`` in an ensemble
MAIN_TEACHER = "teacher"


class Recipe(Section):
    """A whole run: what to load, what to build, how to train and evaluate it."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.\-]+$", description="Run name; also the default run folder.")
    seed: int = 0
    device: str = Field("auto", pattern=r"^(auto|cpu|cuda(:\d+)?|mps)$", description="auto picks CUDA when present.")
    run: RunConfig = RunConfig()
    runtime: RuntimeConfig = RuntimeConfig()
    data: DatasetConfig
    degradation: ComponentConfig
    teacher: TeacherConfig
    teacher_weight: float = Field(1.0, ge=0, description="Weight of `teacher`'s loss terms when `teachers` is set.")
    teachers: list[TeacherTerm] = Field(
        default_factory=list,
        description="Further teachers to train the student against (an ensemble): every loss term that needs a "
        "teacher is applied per teacher and summed with the weights; the monitor is their weighted mean.",
    )
    student: StudentConfig | None = None
    losses: list[WeightedConfig] = Field(default_factory=list)
    train: TrainConfig = StudentTrain()
    compare: CompareConfig = CompareConfig()
    wandb: WandbConfig | None = Field(None, description="Also log to Weights & Biases (pip install srdistill[wandb]).")

    @property
    def run_dir(self) -> Path:
        return self.run.dir if self.run.dir is not None else Path("runs") / self.name

    @model_validator(mode="after")
    def _consistent(self) -> Recipe:
        if isinstance(self.train, StudentTrain):
            if self.student is None:
                raise ValueError("train.fit is 'student' but the recipe has no student section")
            if not self.losses:
                raise ValueError("train.fit is 'student' but losses is empty; add e.g. `- type: logit_mse`")
        elif self.teachers:
            raise ValueError("teachers (an ensemble) trains a student; a teacher fit (train.fit: teacher) uses none")
        names = [MAIN_TEACHER, *(t.name for t in self.teachers)]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"teachers: names must differ (and not be '{MAIN_TEACHER}'); repeated: {', '.join(twice)}")
        if not self.teachers and self.teacher_weight != 1.0:
            raise ValueError("teacher_weight weighs `teacher` against `teachers`, but teachers is empty")
        if self.teachers and self.teacher_weight + sum(t.weight for t in self.teachers) <= 0:
            raise ValueError("teacher_weight and teachers[].weight add up to 0; give at least one teacher a weight > 0")
        return self

    def teacher_weights(self) -> dict[str, float]:
        """Every teacher's weight by name: ``teacher`` first, then ``teachers`` in order."""
        return {MAIN_TEACHER: self.teacher_weight} | {t.name: t.weight for t in self.teachers}


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
    term = create_model("TeacherTerm", __base__=TeacherTerm, teacher=(unions["teacher"], ...))
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
        teachers=(list[term], Field(default_factory=list)),  # type: ignore[valid-type]
        student=(unions["student"] | None, None),
        losses=(list[loss_item], Field(default_factory=list)),  # type: ignore[valid-type]
        compare=(compare, Field(default_factory=compare)),
    )


class WandbConfig(Section):
    """Weights & Biases logging, beside TensorBoard and metrics.csv (main process only)."""

    project: str = Field(min_length=1, description="W&B project.")
    entity: str | None = Field(None, description="W&B team or user; default your default entity.")
    name: str | None = Field(None, description="Run name in W&B; default the recipe's name.")
    mode: Literal["online", "offline", "disabled"] = Field(
        "online", description="offline writes the run locally (`wandb sync` uploads it later)."
    )
    tags: tuple[str, ...] = Field((), description="Tags of the W&B run.")

"""The recipe's fixed sections besides ``train``: run folder, runtime switches, comparison, ensemble
members and logging. Each is a plain pydantic model; :mod:`srdistill.recipe.schema` assembles them."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from srdistill.catalog import catalog
from srdistill.methods import BASELINES, RESERVED
from srdistill.settings import Settings, repeated
from srdistill.teachers.base import TeacherConfig
from srdistill.weights import student_weights

#: what compare reports by default, for the teacher and every method
DEFAULT_METRICS = ("top1", "top5", "ce", "logit_mse", "agreement", "psnr", "ssim", "psnr_y")
#: what compare reports for every judge and method (besides the recovered fraction)
JUDGE_METRICS = ("top1", "top5", "ce", "agreement")
#: a name in tables, logs and file names
NAME_PATTERN = r"^[A-Za-z0-9_.\-]+$"


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


class CheckpointRef(Section):
    name: str = Field(description="Row name in the table.")
    path: Path | str = Field(
        description="Student checkpoint (.safetensors written by srdistill train, or a file or release name of "
        "the student's type, e.g. RRDB_ESRGAN_x4)."
    )

    runs: list[Path] = Field(
        default_factory=list,
        description="Run folders whose train seconds make this row's cost in the routes table (e.g. the pixel run "
        "a fine-tune started from, and the fine-tune); default: the checkpoint's own folder.",
    )

    _release_or_path = field_validator("path", mode="before")(student_weights)


class JudgeConfig(Section):
    """A frozen classifier that judges every method, beside the teacher the student was trained against."""

    name: str = Field(pattern=NAME_PATTERN, description="Column name in the judges matrix.")
    teacher: TeacherConfig = Field(description="Any registered teacher type, with its own weights and preprocessing.")
    label_map: tuple[Annotated[int, Field(ge=0)], ...] | None = Field(
        None,
        description="For a judge whose classes are not the data set's: its output index for each data set class, "
        "in class order (e.g. the ImageNet indices of a 10-class subset). Default: the same classes.",
    )


class RouteConfig(Section):
    """A route to recognition: the images of one row (an SR method) read by a classifier of its own."""

    name: str = Field(pattern=NAME_PATTERN, description="Row name in the routes table.")
    sr: str = Field(description="The row whose images the classifier reads: bilinear, bicubic or a checkpoint's name.")
    classifier: Path = Field(
        description="The classifier's weights (a teacher fit's best.safetensors, a joint fit's "
        "classifier_best.safetensors); built as its metadata says, else as the recipe's teacher section."
    )
    runs: list[Path] = Field(
        default_factory=list,
        description="Run folders whose train seconds make the route's cost (e.g. a pixel run and the fine-tune "
        "that started from it); default: the folders of the files it reads.",
    )


class CompareConfig(Section):
    checkpoints: list[CheckpointRef] = Field(default_factory=list, description="One table row each.")
    judges: list[JudgeConfig] = Field(
        default_factory=list, description="Classifiers the student was not trained against: one matrix column each."
    )
    routes: list[RouteConfig] = Field(
        default_factory=list,
        description="SR rows read by classifiers of their own (an LR-trained classifier on bicubic, a joint fit's "
        "student and classifier): the routes table, beside the teacher's rows.",
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
        twice = repeated(names)
        if twice:
            raise ValueError(f"judge names must differ; used more than once: {', '.join(twice)}")
        return judges

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, names: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(catalog().metrics.check(n) for n in names)

    @model_validator(mode="after")
    def _routes_read_rows(self) -> CompareConfig:
        rows = [*BASELINES, *(c.name for c in self.checkpoints)]
        names = [*RESERVED, *(c.name for c in self.checkpoints), *(j.name for j in self.judges)]
        for route in self.routes:
            if route.sr not in rows:
                raise ValueError(f"routes '{route.name}': sr '{route.sr}' is not a row; one of: {', '.join(rows)}")
            if route.name in names:
                raise ValueError(f"routes '{route.name}': the name is taken by a row or a judge; give it another")
            names.append(route.name)
        return self


class EnsembleMember(Section):
    """A further teacher the student is trained against, beside ``teacher`` (one entry of ``teachers``)."""

    name: str = Field(pattern=NAME_PATTERN, description="Name in logs and the plan.")
    weight: float = Field(1.0, ge=0, description="Weight of this teacher's loss terms (and of its monitor value).")
    teacher: TeacherConfig = Field(description="Any registered teacher type, with its own weights and preprocessing.")


class WandbConfig(Section):
    """Weights & Biases logging, beside TensorBoard and metrics.csv (main process only)."""

    project: str = Field(min_length=1, description="W&B project.")
    entity: str | None = Field(None, description="W&B team or user; default your default entity.")
    name: str | None = Field(None, description="Run name in W&B; default the recipe's name.")
    mode: Literal["online", "offline", "disabled"] | None = Field(
        None, description="offline writes the run locally (`wandb sync` uploads it later); default WANDB_MODE."
    )
    tags: tuple[str, ...] = Field((), description="Tags of the W&B run.")

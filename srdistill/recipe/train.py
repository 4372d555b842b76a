"""The recipe's ``train`` section: one model per ``train.fit`` mode (a discriminated union), each
naming the networks it trains and how each one is updated (:class:`NetworkConfig`)."""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from srdistill.catalog import catalog
from srdistill.recipe.sections import DEFAULT_METRICS, Section


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


class NetworkConfig(Section):
    """How one trained network is updated: its optimizer, schedule, gradient clip and weight average."""

    optimizer: OptimizerConfig = OptimizerConfig()
    scheduler: SchedulerConfig = SchedulerConfig()
    grad_clip: float | None = Field(None, gt=0, description="Clip the gradient norm to this value.")
    ema: EmaConfig | None = Field(
        None, description="Keep an average of the weights; validation, best and last then use it (off: none)."
    )


class TrainConfig(Section):
    """What every fit shares: epochs, batches, the monitor, snapshots and logging."""

    #: the metrics validation computes each epoch, besides the monitor
    val_metrics: ClassVar[tuple[str, ...]] = ()

    epochs: int = Field(10, ge=1)
    batch_size: int = Field(32, ge=1)
    max_steps_per_epoch: int | None = Field(None, ge=1, description="Cut epochs short (smoke tests).")
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

    @field_validator("monitor")
    @classmethod
    def _known_monitor(cls, name: str | None) -> str | None:
        return None if name is None else catalog().metrics.check(name)

    def networks(self) -> dict[str, NetworkConfig]:
        """Each trained network's name and update settings, in the order of their updates in a step."""
        raise NotImplementedError

    def monitor_for(self, labels: bool) -> str:
        """The monitor: the recipe's, else the fit's default (``labels``: label metrics apply)."""
        raise NotImplementedError


class OneNetwork(TrainConfig, NetworkConfig):
    """A fit that trains one network; its update settings sit in the train section itself."""

    def networks(self) -> dict[str, NetworkConfig]:
        return {self.network: NetworkConfig(**{k: getattr(self, k) for k in NetworkConfig.model_fields})}

    @property
    def network(self) -> str:
        raise NotImplementedError


class StudentFitConfig(OneNetwork):
    """Train the student through the frozen teacher (SR distillation)."""

    val_metrics = (*DEFAULT_METRICS, "ce_gap")

    fit: Literal["student"] = Field("student", description="student: SR training with the frozen teacher.")

    @property
    def network(self) -> str:
        return "student"

    def monitor_for(self, labels: bool) -> str:
        """The recipe's monitor, else the paper's ce_gap (logit_mse for a teacher without classes)."""
        return self.monitor or ("ce_gap" if labels else "logit_mse")


class TeacherFitConfig(OneNetwork):
    """Fit the teacher with cross-entropy on the originals."""

    val_metrics = ("top1", "top5", "ce")

    fit: Literal["teacher"] = Field(description="teacher: fit the teacher with CE on the originals.")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    trainable: Literal["all", "head"] = Field(
        "all", description="Train every weight, or only the classifier (backbone frozen, in eval mode)."
    )
    hflip: bool = Field(False, description="Random horizontal flips of the originals.")
    inputs: Literal["original", "degraded", "mixed"] = Field(
        "original",
        description="What the classifier learns from: the originals; the degraded images as it would see them "
        "without SR (degraded, then bicubic-upscaled to the original's size; validated the same way); or mixed: "
        "each image degraded or original at random, half and half (resolution augmentation: one classifier for "
        "both; validated on the degraded images, with top-1 on the originals beside).",
    )

    @property
    def network(self) -> str:
        return "teacher"

    @field_validator("monitor")
    @classmethod
    def _scored_on_originals(cls, name: str | None) -> str | None:
        if name is not None and catalog().metrics.get(name).build().against_original:
            raise ValueError(
                f"'{name}' compares SR with the original, but a teacher fit is validated on the originals alone; "
                "use a metric such as top1, top5 or ce"
            )
        return name

    def monitor_for(self, labels: bool) -> str:
        """The recipe's monitor, else cross-entropy."""
        return self.monitor or "ce"


class CrossEntropyTerms(Section):
    """The classifier's cross-entropy terms in a joint fit, by the images they are taken on."""

    sr: float = Field(1.0, ge=0, description="On the student's SR images.")
    original: float = Field(1.0, ge=0, description="On the originals (keeps full-resolution accuracy).")
    mix: float = Field(
        1.0, ge=0, description="On CQMix images: a grid of patches, each from SR or the original at random (0: off)."
    )


class JointFitConfig(TrainConfig):
    """Train the student and the classifier together (SR4IR, Kim et al. 2024). Each step first updates
    the student with ``losses`` read through the classifier (frozen, in evaluation mode, for that
    update), then the classifier with cross-entropy on SR, original and mixed images. The classifier
    starts from ``teacher``'s weights; its own files are ``classifier_best`` / ``classifier_last``."""

    val_metrics = (*DEFAULT_METRICS, "ce_gap")

    fit: Literal["joint"] = Field(description="joint: the student and the classifier trained together.")
    student: NetworkConfig = Field(NetworkConfig(), description="How the student is updated.")
    classifier: NetworkConfig = Field(NetworkConfig(), description="How the classifier is updated.")
    ce: CrossEntropyTerms = Field(CrossEntropyTerms(), description="The classifier's loss terms and weights.")
    mix_grid: int = Field(4, ge=1, description="CQMix: patches per side (it must divide the image size).")
    label_smoothing: float = Field(0.0, ge=0, lt=1)
    task_warmup_epochs: int = Field(
        0, ge=0, description="First epochs in which the student learns only from the losses that read no "
        "classifier (pixel losses), while the classifier already trains.",
    )  # fmt: skip

    @field_validator("ce")
    @classmethod
    def _some_term(cls, ce: CrossEntropyTerms) -> CrossEntropyTerms:
        if ce.sr + ce.original + ce.mix <= 0:
            raise ValueError("every cross-entropy term has weight 0: the classifier would not learn")
        return ce

    @model_validator(mode="after")
    def _task_loss_applies(self) -> JointFitConfig:
        if self.task_warmup_epochs >= self.epochs:
            raise ValueError(
                f"task_warmup_epochs ({self.task_warmup_epochs}) leaves no epoch of the {self.epochs} for the task "
                "loss; lower it below epochs"
            )
        return self

    def networks(self) -> dict[str, NetworkConfig]:
        return {"student": self.student, "classifier": self.classifier}

    def monitor_for(self, labels: bool) -> str:
        """The recipe's monitor, else the classifier's cross-entropy on SR images."""
        return self.monitor or "ce"


def _fit(value: Any) -> str:
    """The ``train`` section's mode; ``fit`` may be left out for the student."""
    if isinstance(value, dict):
        return str(value.get("fit", "student"))
    return str(getattr(value, "fit", "student"))


#: the ``train`` section: one model per ``train.fit``
FitConfig = Annotated[
    Annotated[StudentFitConfig, Tag("student")]
    | Annotated[TeacherFitConfig, Tag("teacher")]
    | Annotated[JointFitConfig, Tag("joint")],
    Discriminator(_fit),
]


def fit_models() -> dict[str, type[TrainConfig]]:
    """Each ``train.fit`` mode's model."""
    return {"student": StudentFitConfig, "teacher": TeacherFitConfig, "joint": JointFitConfig}


FITS = tuple(fit_models())

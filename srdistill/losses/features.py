"""Losses on features inside networks: the teacher's intermediate layers, or a VGG (perceptual)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from srdistill.checkpoints import check_and_load, read_state_dict
from srdistill.errors import UserError
from srdistill.losses.base import Loss, LossInputs, WeightedConfig
from srdistill.registry import did_you_mean


class FeatureConfig(WeightedConfig):
    """Distance between the teacher's intermediate features on original and SR, at the named layers
    (with ``criterion: l1`` and a joint fit, SR4IR's task-driven perceptual loss)."""

    type: Literal["feature"]
    layers: list[str] = Field(min_length=1, description="Module names inside the teacher model, e.g. layer2, layer3.")
    criterion: Literal["mse", "l1"] = Field("mse", description="Mean squared or mean absolute difference.")

    @classmethod
    def tiny(cls, folder: Path) -> FeatureConfig:
        """Layers of the tiny teacher (timm's test_resnet) the registry-wide tests use."""
        return cls(type="feature", layers=["layer1", "layer2"])


class FeatureDistance(Loss):
    """Mean over ``layers`` of the MSE (or L1) between the teacher's features of SR and of the original."""

    def __init__(self, layers: list[str], criterion: str = "mse") -> None:
        super().__init__()
        self.teacher_layers = tuple(layers)
        self.criterion = F.l1_loss if criterion == "l1" else F.mse_loss

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        assert inputs.hr_features is not None and inputs.sr_features is not None
        terms = [self.criterion(inputs.sr_features[n], inputs.hr_features[n]) for n in self.teacher_layers]
        return torch.stack(terms).mean()


def build_feature(cfg: FeatureConfig) -> Loss:
    return FeatureDistance(cfg.layers, cfg.criterion)


def check_layers(model: nn.Module, layers: tuple[str, ...], who: str = "the teacher") -> None:
    """A clear error for layer names the model does not have; ``who`` names the classifier (an ensemble member's
    recipe section, say)."""
    known = [name for name, _ in model.named_modules() if name]
    missing = [n for n in layers if n not in known]
    if missing:
        hints = "".join(did_you_mean(n, known) for n in missing)
        tops = ", ".join(name for name, _ in model.named_children())
        raise UserError(
            f"The model of {who} has no layer {', '.join(repr(n) for n in missing)}.{hints}",
            f"Name modules of {who}'s model (dotted paths); its top-level ones are: {tops}.",
        )


@contextmanager
def capture(model: nn.Module, layers: tuple[str, ...]) -> Iterator[dict[str, torch.Tensor]]:
    """Record the outputs of ``model``'s named submodules during the forward passes inside the block."""
    found: dict[str, torch.Tensor] = {}
    if not layers:  # the usual case (no feature loss): no hooks, and no walk over the modules per call
        yield found
        return
    modules = dict(model.named_modules())
    hooks = [
        # a copy: an in-place activation after the layer (timm's ResNet: bn1, then ReLU(inplace=True)) would
        # otherwise overwrite the output before the loss reads it
        modules[name].register_forward_hook(lambda _m, _i, out, name=name: found.__setitem__(name, _kept(out)))
        for name in layers
    ]
    try:
        yield found
    finally:
        for hook in hooks:
            hook.remove()


def _kept(out: Any) -> Any:
    return out.clone() if isinstance(out, torch.Tensor) else out


# -- perceptual ------------------------------------------------------------------------------------------

#: VGG19 ``features`` index of each convolution's output (before its ReLU, as in ESRGAN)
VGG19_CONVS = {
    "conv1_1": 0, "conv1_2": 2, "conv2_1": 5, "conv2_2": 7,
    "conv3_1": 10, "conv3_2": 12, "conv3_3": 14, "conv3_4": 16,
    "conv4_1": 19, "conv4_2": 21, "conv4_3": 23, "conv4_4": 25,
    "conv5_1": 28, "conv5_2": 30, "conv5_3": 32, "conv5_4": 34,
}  # fmt: skip


class PerceptualConfig(WeightedConfig):
    """ESRGAN's perceptual loss: distance between VGG19 features of SR and original (VGG from a local file)."""

    type: Literal["perceptual"]
    weights: Path = Field(description="torchvision VGG19 weights (vgg19-dcbb9e9d.pth, or only its first layers).")
    layers: dict[str, float] = Field(
        default_factory=lambda: {"conv5_4": 1.0}, description="VGG19 convolutions and their weights."
    )
    criterion: Literal["l1", "mse"] = "l1"

    @classmethod
    def tiny(cls, folder: Path) -> PerceptualConfig:
        """VGG19's first convolution only (a file may hold just the first layers)."""
        import torch
        import torchvision

        path = folder / "vgg19_conv1_1.pth"
        first = torchvision.models.vgg19(weights=None).features[0]
        torch.save({f"features.0.{k}": v for k, v in first.state_dict().items()}, path)
        return cls(type="perceptual", weights=path, layers={"conv1_1": 1.0})


class Perceptual(Loss):
    needs_teacher = False

    def __init__(self, vgg_features: nn.Sequential, layers: dict[str, float], criterion: str) -> None:
        super().__init__()
        self.layers = layers
        self.index = {VGG19_CONVS[name]: name for name in layers}
        self.features = vgg_features[: max(self.index) + 1].eval().requires_grad_(False)
        for layer in self.features:  # in-place ReLUs would overwrite the pre-activation features kept
            if isinstance(layer, nn.ReLU):
                layer.inplace = False
        self.criterion = F.l1_loss if criterion == "l1" else F.mse_loss
        mean, std = torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225])
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", std.view(1, 3, 1, 1), persistent=False)

    def _features(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = (images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images) - self.mean
        x = x / self.std
        out = {}
        for i, layer in enumerate(self.features):
            x = layer(x)
            if i in self.index:
                out[self.index[i]] = x
        return out

    def forward(self, inputs: LossInputs) -> torch.Tensor:
        sr = self._features(inputs.sr)
        with torch.no_grad():
            hr = self._features(inputs.hr)
        return sum(w * self.criterion(sr[n], hr[n]) for n, w in self.layers.items())  # type: ignore[return-value]


def build_perceptual(cfg: PerceptualConfig) -> Loss:
    import torchvision

    unknown = [n for n in cfg.layers if n not in VGG19_CONVS]
    if unknown:
        raise UserError(
            f"losses: perceptual has no VGG19 layer {', '.join(unknown)}.", f"Use: {', '.join(VGG19_CONVS)}."
        )
    depth = max(VGG19_CONVS[n] for n in cfg.layers)
    features = torchvision.models.vgg19(weights=None).features[: depth + 1]
    # the file may be torchvision's whole VGG19 or only its first layers: the classifier and any
    # layer deeper than the deepest one used are not needed
    state = read_state_dict(cfg.weights, "losses.perceptual.weights")
    prefix = "features."
    used = {k[len(prefix) :]: v for k, v in state.items() if k.startswith(prefix) and int(k.split(".")[1]) <= depth}
    check_and_load(features, used, f"losses.perceptual.weights ({cfg.weights})")
    return Perceptual(features, cfg.layers, cfg.criterion)

"""LPIPS (Zhang et al. 2018): perceptual distance of SR to the original, lower is better.

torchmetrics' LPIPS network with the AlexNet backbone, as traiNNer-redux and SR4IR report it.
Its linear layers ship inside torchmetrics; the backbone is torchvision's ImageNet AlexNet, read
from torch's hub cache (where torchvision keeps it) or from the file ``SRDISTILL_LPIPS_BACKBONE``
names. It is never downloaded here: a missing file is an error that says which file goes where.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from srdistill.checkpoints import check_and_load, read_state_dict
from srdistill.errors import UserError
from srdistill.metrics.base import EvalBatch, Metric

BACKBONE_URL = "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth"
BACKBONE_FILE = BACKBONE_URL.rsplit("/", 1)[1]
#: torch.hub's naming convention: the first digits of the file's SHA-256 follow the last '-'
BACKBONE_SHA256_PREFIX = "7be5be79"
BACKBONE_ENV = "SRDISTILL_LPIPS_BACKBONE"
#: AlexNet's three poolings need at least this many pixels a side
MIN_SIDE = 31


def backbone_file() -> Path:
    """Where the AlexNet weights are read from: ``$SRDISTILL_LPIPS_BACKBONE``, else torch's hub cache."""
    if os.environ.get(BACKBONE_ENV):
        path = Path(os.environ[BACKBONE_ENV]).expanduser()
        if not path.is_file():
            raise UserError(
                f"lpips: {BACKBONE_ENV} names {path}, which is not a file.",
                f"Point it at torchvision's AlexNet weights ({BACKBONE_FILE}, from {BACKBONE_URL}).",
            )
        return path
    from srdistill.weights import checkpoints_dir, sha256_of

    path = checkpoints_dir() / BACKBONE_FILE
    if not path.is_file():
        raise UserError(
            f"lpips needs torchvision's ImageNet AlexNet weights, {BACKBONE_FILE}, and they are not in torch's "
            f"hub cache ({path.parent}). They are never downloaded during an evaluation.",
            f"Put {BACKBONE_URL} at {path} (on a machine with internet, "
            "`python -c \"import torchvision; torchvision.models.alexnet(weights='DEFAULT')\"` fills that cache; "
            f"TORCH_HOME moves it), or set {BACKBONE_ENV} to a copy of the file.",
        )
    found = sha256_of(path)
    if not found.startswith(BACKBONE_SHA256_PREFIX):
        raise UserError(
            f"lpips: {path} is not torchvision's AlexNet file: its SHA-256 is {found}, not {BACKBONE_SHA256_PREFIX}…",
            f"Delete it and put {BACKBONE_URL} there again (a partial download gives this).",
        )
    return path


def lpips_network(device: torch.device) -> nn.Module:
    """torchmetrics' LPIPS network (AlexNet), frozen, with the backbone from :func:`backbone_file`."""
    import torchvision
    from torchmetrics.functional.image.lpips import _NoTrainLpips

    path = backbone_file()
    features = torchvision.models.alexnet(weights=None).features
    # only the convolutional part is used: a file without AlexNet's classifier is enough
    state = {k.removeprefix("features."): v for k, v in read_state_dict(path, "lpips backbone").items()}
    state = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    check_and_load(features, state, f"lpips backbone ({path}), AlexNet's features")
    # pnet_rand: torchmetrics builds the backbone without fetching it; the linear layers are its own
    net = _NoTrainLpips(net="alex", pnet_rand=True)
    weights = features.state_dict()
    # the backbone's slices keep torchvision's layer numbers: slice2.3.weight is features.3.weight
    net.net.load_state_dict({k: weights[k.split(".", 1)[1]] for k in net.net.state_dict()})
    return net.eval().requires_grad_(False).to(device)


class LPIPS(Metric):
    """LPIPS with AlexNet (torchmetrics; grey repeated to RGB); 0 for identical images, lower is better."""

    higher_is_better = False
    against_original = True
    min_side = MIN_SIDE

    def __init__(self) -> None:
        super().__init__()
        self._net: nn.Module | None = None

    def per_image(self, batch: EvalBatch) -> torch.Tensor:
        sr, hr = batch.sr.float(), batch.hr.float()
        if min(hr.shape[-2:]) < MIN_SIDE:
            raise UserError(
                f"lpips needs images of at least {MIN_SIDE}×{MIN_SIDE} (AlexNet's poolings); these are "
                f"{hr.shape[-2]}×{hr.shape[-1]}.",
                "Leave lpips out of compare.metrics for this data set.",
            )
        if hr.shape[1] == 1:
            sr, hr = sr.expand(-1, 3, -1, -1), hr.expand(-1, 3, -1, -1)
        if self._net is None:
            self._net = lpips_network(hr.device)
        with torch.no_grad():
            return self._net(sr.clamp(0, 1), hr.clamp(0, 1), normalize=True).flatten()

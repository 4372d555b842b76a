"""LPIPS (Zhang et al. 2018): perceptual distance of SR to the original, lower is better.

The authors' ``lpips`` package (v0.1, AlexNet), as traiNNer-redux and SR4IR report it. Its linear
layers ship inside the package; the backbone is torchvision's ImageNet AlexNet, read from torch's
hub cache (where torchvision keeps it) or from the copy ``SRDISTILL_LPIPS_BACKBONE`` names, its
SHA-256 prefix checked either way. It is never downloaded here: a missing file is an error that
says which file goes where. (``lpips`` and torchmetrics would have torchvision fetch the backbone,
or unpickle the cached file with ``weights_only=False``; it is read here with ``weights_only=True``.)
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
    """Where the AlexNet weights are read from (``$SRDISTILL_LPIPS_BACKBONE``, else torch's hub cache), checked."""
    from srdistill.weights import checkpoints_dir, verify

    what = f"torchvision's AlexNet file ({BACKBONE_FILE})"
    if os.environ.get(BACKBONE_ENV):
        path = Path(os.environ[BACKBONE_ENV]).expanduser()
        if not path.is_file():
            raise UserError(
                f"lpips: {BACKBONE_ENV} names {path}, which is not a file.",
                f"Point it at torchvision's AlexNet weights ({BACKBONE_FILE}, from {BACKBONE_URL}).",
            )
        verify(path, BACKBONE_SHA256_PREFIX, what, f"Point {BACKBONE_ENV} at a copy of {BACKBONE_URL}.")
        return path
    path = checkpoints_dir() / BACKBONE_FILE
    if not path.is_file():
        raise UserError(
            f"lpips needs torchvision's ImageNet AlexNet weights, {BACKBONE_FILE}, and they are not in torch's "
            f"hub cache ({path.parent}). They are never downloaded during an evaluation.",
            f"Put {BACKBONE_URL} at {path} (on a machine with internet, "
            "`python -c \"import torchvision; torchvision.models.alexnet(weights='DEFAULT')\"` fills that cache; "
            f"TORCH_HOME moves it), or set {BACKBONE_ENV} to a copy of the file.",
        )
    verify(path, BACKBONE_SHA256_PREFIX, what, f"Delete it and put {BACKBONE_URL} there again (a partial download "
           "gives this).")  # fmt: skip
    return path


def lpips_network(device: torch.device) -> nn.Module:
    """The ``lpips`` package's LPIPS (AlexNet, v0.1), frozen, with the backbone from :func:`backbone_file`."""
    import warnings

    import lpips

    path = backbone_file()
    state = read_state_dict(path, "lpips backbone")
    with warnings.catch_warnings():  # lpips builds its random backbone with torchvision's deprecated pretrained=False
        warnings.simplefilter("ignore", UserWarning)
        net = lpips.LPIPS(net="alex", version="0.1", pnet_rand=True, verbose=False)
    # only AlexNet's features are used (a file without its classifier is enough); the backbone's
    # slices keep torchvision's layer numbers: slice2.3.weight is features.3.weight
    features = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    layers = {k: k.split(".", 1)[1] for k in net.net.state_dict()}
    check_and_load(net.net, {k: features[f] for k, f in layers.items() if f in features},
                   f"lpips backbone ({path}), AlexNet's features")  # fmt: skip
    return net.eval().requires_grad_(False).to(device)


class LPIPS(Metric):
    """LPIPS with AlexNet (the ``lpips`` package; grey repeated to RGB); 0 for identical images, lower is better."""

    higher_is_better = False
    against_original = True
    min_side = MIN_SIDE

    def __init__(self) -> None:
        super().__init__()
        self._net: nn.Module | None = None

    def missing(self) -> list[UserError]:
        try:
            backbone_file()
        except UserError as e:
            return [e]
        return []

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

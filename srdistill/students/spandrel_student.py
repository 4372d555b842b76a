"""Any SR architecture spandrel recognises (ESRGAN, SwinIR, HAT, DAT, ...), from a checkpoint file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from srdistill.checkpoints import read_state_dict
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.base import LearnedStudentConfig, SuperResolver


class SpandrelConfig(LearnedStudentConfig):
    """Any SR network spandrel can load (SwinIR, HAT, ESRGAN, ...), then resized to the original size."""

    type: Literal["spandrel"]
    weights: Path = Field(description="The checkpoint; spandrel infers the architecture from its keys.")
    resize: Literal["bicubic", "bilinear", "area"] = Field(
        "bicubic", description="Interpolation from the network's output to the original size."
    )

    @classmethod
    def tiny(cls, folder: Path) -> SpandrelConfig:
        """A small ESRGAN (RRDB) checkpoint, one architecture spandrel recognises."""
        import torch

        from srdistill.compat.basicsr import rrdbnet_class

        path = folder / "spandrel_esrgan.pth"
        net = rrdbnet_class()(num_in_ch=3, num_out_ch=3, num_feat=8, num_block=1, num_grow_ch=32)  # spandrel assumes 32
        torch.save(net.state_dict(), path)
        return cls(type="spandrel", weights=path)


def build_spandrel(cfg: SpandrelConfig, info: DataInfo) -> SuperResolver:
    import spandrel

    state = read_state_dict(cfg.weights, "student.weights")  # read safely; spandrel only sees tensors
    try:
        found = spandrel.ModelLoader().load_from_state_dict(state)
    except spandrel.UnsupportedModelError:
        raise UserError(
            f"spandrel does not recognise the architecture in {cfg.weights}.",
            "Check that the file is a super-resolution checkpoint of an architecture spandrel supports.",
        ) from None
    except Exception as e:  # spandrel guessed an architecture the weights do not fit
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(
            f"spandrel could not load {cfg.weights}: {first}",
            "spandrel infers the architecture from the keys and shapes; non-standard sizes may not be supported.",
        ) from None
    if not isinstance(found, spandrel.ImageModelDescriptor):
        raise UserError(f"{cfg.weights} holds a {found.architecture.name} model, not an image-to-image network.")
    if found.input_channels != info.channels:
        raise UserError(
            f"{cfg.weights} is a {found.architecture.name} for {found.input_channels}-channel images, "
            f"but the data set has {info.channels}.",
            "Use weights for the data set's channels.",
        )
    net = found.model.train().requires_grad_(True)
    return SuperResolver(net, cfg.resize, multiple=found.size_requirements.multiple_of, config=cfg)

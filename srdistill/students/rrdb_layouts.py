"""RRDB checkpoints in every layout found in the wild, as basicsr ``RRDBNet`` keys and sizes.

* basicsr (BasicSR, Real-ESRGAN and srdistill's own students: ``conv_first``,
  ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``) is
  read as it is, its sizes off its shapes: spandrel builds every RRDB with dense blocks 32
  channels wide, while srdistill's students may use any ``num_grow_ch``.
* Every other layout (the ESRGAN repository's original ``Sequential`` ``model.N`` release, its
  later ``RRDB_trunk`` names, BSRGAN/RealSR, ...) is read by spandrel, as chaiNNer and ComfyUI
  read it, into spandrel's ESRGAN network; that network registers its parameters in the order
  of basicsr's ``RRDBNet``, so they are renamed by position, every shape checked.

The architecture (channels, widths, block count, scale) is read off the weights, so a recipe can
leave it out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch

from srdistill.compat.basicsr import rrdbnet_class
from srdistill.errors import UserError

#: spandrel's width of the dense blocks (its RRDBNet takes no other)
SPANDREL_GROW = 32


def is_basicsr(state: Mapping[str, torch.Tensor]) -> bool:
    return "conv_first.weight" in state and any(k.startswith("body.") for k in state)


def to_basicsr(state: Mapping[str, torch.Tensor], source: str = "weights") -> dict[str, torch.Tensor]:
    """``state`` with basicsr's ``RRDBNet`` keys; ``source`` names the file and where it was given in errors."""
    if is_basicsr(state):
        return dict(state)
    import spandrel

    fix = ("Use an ESRGAN, BasicSR or Real-ESRGAN RRDB checkpoint (RRDBNet), the student checkpoint that "
           "srdistill train wrote, or student type: spandrel for other architectures.")  # fmt: skip
    try:
        found = spandrel.ModelLoader().load_from_state_dict(dict(state))
    except spandrel.UnsupportedModelError:
        sample = ", ".join(sorted(state)[:4])
        raise UserError(f"{source} is not an RRDB network in a known layout (first keys: {sample}).", fix) from None
    except Exception as e:  # spandrel took it for ESRGAN, but the weights do not fit its network
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"{source}: spandrel could not read these RRDB weights: {first}", fix) from None
    if found.architecture.id != "ESRGAN":
        raise UserError(f"{source} holds a {found.architecture.name} network, not an RRDB.", fix)
    sizes = found.model.hyperparameters
    if sizes["plus"] or sizes["scale"] != 4:
        what = "an ESRGAN+" if sizes["plus"] else f"a ×{sizes['scale']} ESRGAN"
        raise UserError(f"{source} holds {what} network, which basicsr's RRDBNet (×4 upsampling) cannot hold.", fix)
    shuffle = sizes["shuffle_factor"] or 1
    with torch.device("meta"):  # only its keys and shapes are read: skip basicsr's random initialisation
        net = rrdbnet_class()(found.input_channels, found.output_channels, num_feat=sizes["num_filters"],
                              num_block=sizes["num_blocks"], num_grow_ch=SPANDREL_GROW, scale=4 // shuffle)  # fmt: skip
    ours, theirs = net.state_dict(), found.model.state_dict()
    if len(state) != len(theirs):  # spandrel drops what it does not know
        raise UserError(f"{source}: {len(state) - len(theirs)} of its {len(state)} tensors are not part of the "
                        "ESRGAN network spandrel reads (a file that mixes layouts?).", fix)  # fmt: skip
    pairs = list(zip(ours.items(), theirs.values(), strict=True))
    wrong = [key for (key, mine), value in pairs if mine.shape != value.shape]
    if wrong:  # a change of parameter order in spandrel would show here
        raise UserError(f"{source}: spandrel's ESRGAN and basicsr's RRDBNet differ at {', '.join(wrong[:3])}.", fix)
    return {key: value for (key, _), value in pairs}


@dataclass(frozen=True)
class RRDBArch:
    """RRDBNet's constructor arguments, as read off a state dict in basicsr layout."""

    num_in_ch: int
    num_out_ch: int
    num_feat: int
    num_block: int
    num_grow_ch: int
    scale: int


def infer_arch(state: Mapping[str, torch.Tensor], source: str = "weights") -> RRDBArch:
    """The architecture of basicsr-layout RRDB weights (pixel-unshuffle tells the scale)."""
    try:
        first, last = state["conv_first.weight"], state["conv_last.weight"]
        grow = state["body.0.rdb1.conv1.weight"].shape[0]
    except KeyError as e:
        raise UserError(
            f"{source}: RRDB weights lack {e.args[0]}.", "The file is not a complete RRDB network."
        ) from None
    blocks = {int(k.split(".")[1]) for k in state if k.startswith("body.")}
    out_ch, in_unshuffled = last.shape[0], first.shape[1]
    # RRDBNet pixel-unshuffles its input by 2 (scale 2) or 4 (scale 1): conv_first sees in_ch·4 or in_ch·16
    for factor, scale in ((1, 4), (4, 2), (16, 1)):
        if in_unshuffled == out_ch * factor:
            return RRDBArch(out_ch, out_ch, first.shape[0], len(blocks), grow, scale)
    return RRDBArch(in_unshuffled, out_ch, first.shape[0], len(blocks), grow, 4)

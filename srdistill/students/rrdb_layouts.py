"""RRDB checkpoints in every layout found in the wild, as basicsr ``RRDBNet`` keys and sizes.

* basicsr (BasicSR, Real-ESRGAN and srdistill's own students: ``conv_first``,
  ``body.N.rdb1.conv1``, ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``) is
  read as it is, its sizes off its shapes: spandrel builds every RRDB with dense blocks 32
  channels wide, while srdistill's students may use any ``num_grow_ch``.
* The ESRGAN repository's original ``Sequential`` ``model.N`` release and its later ``RRDB_trunk``
  names are renamed key by key (any growth; spandrel's network is 32 wide only).
* Every other layout (BSRGAN/RealSR, ...) is read by spandrel, as chaiNNer and ComfyUI
  read it, into spandrel's ESRGAN network; that network registers its parameters in the order
  of basicsr's ``RRDBNet``, so they are renamed by position, every shape checked.

The architecture (channels, widths, block count, scale) is read off the weights, so a recipe can
leave it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from srdistill.compat.basicsr import rrdbnet_class
from srdistill.errors import UserError

#: spandrel's width of the dense blocks (its RRDBNet takes no other)
SPANDREL_GROW = 32


def is_basicsr(state: Mapping[str, torch.Tensor]) -> bool:
    return "conv_first.weight" in state and any(k.startswith("body.") for k in state)


#: the ESRGAN repository's later names (RRDBNet_arch.py) -> basicsr's
ESRGAN_NAMES = [
    (r"^RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)\.", r"body.\1.rdb\2.conv\3."),
    (r"^trunk_conv\.", "conv_body."),
    (r"^upconv1\.", "conv_up1."),
    (r"^upconv2\.", "conv_up2."),
    (r"^HRconv\.", "conv_hr."),
]


def old_esrgan_names(blocks: int) -> list[tuple[str, str]]:
    """The original ESRGAN release's ``Sequential`` keys (``model.N``) -> basicsr's, for ``blocks`` RRDBs."""
    return [
        (r"^model\.0\.", "conv_first."),
        (r"^model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0\.", r"body.\1.rdb\2.conv\3."),
        (rf"^model\.1\.sub\.{blocks}\.", "conv_body."),
        (r"^model\.3\.", "conv_up1."),
        (r"^model\.6\.", "conv_up2."),
        (r"^model\.8\.", "conv_hr."),
        (r"^model\.10\.", "conv_last."),
    ]


def renamed_esrgan(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """The ESRGAN repository's two layouts with basicsr's keys, if ``state`` is one of them in full.

    spandrel reads these layouts too, but builds every dense block 32 channels wide, so ESRGAN-layout
    weights of another growth (8 or 16, as small models use) fail there; renamed here, any growth loads.
    """
    if any(k.startswith("RRDB_trunk.") for k in state):
        names = ESRGAN_NAMES
    elif "model.0.weight" in state:
        blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.1\.sub\.(\d+)\.RDB", k))}
        names = old_esrgan_names(len(blocks))
    else:
        return None
    out = {}
    for key, value in state.items():
        for pattern, repl in names:
            key = re.sub(pattern, repl, key)
        out[key] = value
    try:
        arch = infer_arch(out)
    except UserError:
        return None
    with torch.device("meta"):
        expected = rrdbnet_class()(**vars(arch)).state_dict()
    if set(out) != set(expected) or any(out[k].shape != v.shape for k, v in expected.items()):
        return None  # not the whole network in that layout (an ESRGAN of another scale, ESRGAN+): spandrel's turn
    return out


def to_basicsr(state: Mapping[str, torch.Tensor], source: str = "weights") -> dict[str, torch.Tensor]:
    """``state`` with basicsr's ``RRDBNet`` keys; ``source`` names the file and where it was given in errors."""
    if is_basicsr(state):
        return dict(state)
    esrgan = renamed_esrgan(state)
    if esrgan is not None:
        return esrgan
    import spandrel

    fix = ("Use an ESRGAN, BasicSR or Real-ESRGAN RRDB checkpoint (RRDBNet), the student checkpoint that "
           "srdistill train wrote, or student type: spandrel for other architectures.")  # fmt: skip
    try:
        found = spandrel.ModelLoader().load_from_state_dict(dict(state))
    except spandrel.UnsupportedModelError:
        sample = ", ".join(sorted(state)[:4])
        raise UserError(f"{source} is not an RRDB network in a known layout (first keys: {sample}).", fix) from None
    except Exception as e:  # spandrel took it for ESRGAN, but the weights do not fit its network: say all it says
        whole = str(e).strip() or type(e).__name__
        raise UserError(f"{source}: spandrel could not read these RRDB weights:\n{whole}", fix) from None
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

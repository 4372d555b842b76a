"""RRDB checkpoints in the layouts found in the wild, converted to basicsr's ``RRDBNet`` keys.

* ``basicsr``: BasicSR / Real-ESRGAN (``conv_first``, ``body.N.rdb1.conv1``, ``conv_body``,
  ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``), usually under ``params_ema``/``params``.
* ``esrgan``: the ESRGAN repository's current architecture file (``RRDB_trunk.N.RDB1.conv1``,
  ``trunk_conv``, ``upconv1``, ``upconv2``, ``HRconv``).
* ``esrgan_old``: the original ESRGAN release, a ``Sequential`` (``model.0``,
  ``model.1.sub.N.RDB1.conv1.0``, ``model.1.sub.<num_block>`` (trunk conv), ``model.3``,
  ``model.6``, ``model.8``, ``model.10``), e.g. ``RRDB_ESRGAN_x4.pth`` as first published.

The architecture (channels, widths, block count, scale) is read off the weights, so a recipe can
leave it out.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from srdistill.errors import UserError

Layout = str

#: basicsr key (a ``re.sub`` template) <- its key in the esrgan and in the esrgan_old layout (patterns);
#: each is followed by ``.weight`` or ``.bias``
_KEYS = (
    (r"conv_first", r"conv_first", r"model\.0"),
    (r"body.\1.rdb\2.conv\3", r"RRDB_trunk\.(\d+)\.RDB(\d)\.conv(\d)", r"model\.1\.sub\.(\d+)\.RDB(\d)\.conv(\d)\.0"),
    (r"conv_body", r"trunk_conv", r"model\.1\.sub\.\d+"),
    (r"conv_up1", r"upconv1", r"model\.3"),
    (r"conv_up2", r"upconv2", r"model\.6"),
    (r"conv_hr", r"HRconv", r"model\.8"),
    (r"conv_last", r"conv_last", r"model\.10"),
)
_RULES = {
    layout: [(re.compile(rf"^{row[column]}\.(?P<param>weight|bias)$"), rf"{row[0]}.\g<param>") for row in _KEYS]
    for column, layout in ((1, "esrgan"), (2, "esrgan_old"))
}


def detect_layout(state: Mapping[str, torch.Tensor], source: str = "weights") -> Layout:
    """``basicsr``, ``esrgan`` or ``esrgan_old``; a :class:`UserError` for anything else.

    ``source`` names the file and where it was given (``student.weights (path)``) in errors.
    """
    keys = set(state)
    if "conv_first.weight" in keys and any(k.startswith("body.") for k in keys):
        return "basicsr"
    if "conv_first.weight" in keys and any(k.startswith("RRDB_trunk.") for k in keys):
        return "esrgan"
    if "model.0.weight" in keys and any(k.startswith("model.1.sub.") for k in keys):
        return "esrgan_old"
    sample = ", ".join(sorted(keys)[:4])
    raise UserError(
        f"{source} is not an RRDB network in a known layout (first keys: {sample}).",
        "Use an ESRGAN, BasicSR or Real-ESRGAN RRDB checkpoint (RRDBNet), or the student checkpoint "
        "that srdistill train wrote.",
    )


def to_basicsr(state: Mapping[str, torch.Tensor], source: str = "weights") -> dict[str, torch.Tensor]:
    """``state`` with its keys renamed to basicsr's ``RRDBNet`` layout (``source`` as in :func:`detect_layout`)."""
    layout = detect_layout(state, source)
    if layout == "basicsr":
        return dict(state)
    rules = _RULES[layout]
    out: dict[str, torch.Tensor] = {}
    unknown = []
    for key, value in state.items():
        for pattern, repl in rules:
            if pattern.match(key):
                out[pattern.sub(repl, key)] = value
                break
        else:
            unknown.append(key)
    if unknown:
        raise UserError(
            f"{source}: RRDB weights in the {layout} layout have keys that layout does not have: "
            f"{', '.join(unknown[:5])}",
            "The file mixes layouts or is not an RRDB network.",
        )
    return out


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

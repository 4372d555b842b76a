"""MATLAB's imresize: equal to basicsr's own (the SR literature's LR images), batched on the device."""

from __future__ import annotations

import pytest
import torch

from srdistill.compat.basicsr import matlab_functions
from srdistill.degradations.matlab import imresize, output_side
from srdistill.degradations.resize import Downscale


@pytest.mark.parametrize(("channels", "side", "scale"), [(3, 256, 0.32), (3, 64, 0.25), (1, 28, 0.32), (3, 30, 0.5)])
@pytest.mark.parametrize("antialias", [True, False])
def test_equal_to_basicsrs_imresize(channels: int, side: int, scale: float, antialias: bool) -> None:
    images = torch.rand(2, channels, side, side + 6, generator=torch.Generator().manual_seed(0))
    ours = imresize(images, scale, antialias)
    try:
        theirs = torch.stack([matlab_functions().imresize(img, scale, antialias) for img in images])
    except RuntimeError:  # basicsr's loop slices an empty symmetric border as the whole axis
        pytest.skip("basicsr's own imresize fails where the window needs no border")
    assert ours.shape == theirs.shape == (2, channels, output_side(side, scale), output_side(side + 6, scale))
    assert torch.allclose(ours, theirs, atol=1e-5), float((ours - theirs).abs().max())


def test_the_degradation_uses_it_with_matlabs_sizes() -> None:
    images = torch.rand(3, 1, 28, 28)
    matlab = Downscale(0.3, kernel="matlab")
    assert matlab.output_size((28, 28)) == (9, 9) != Downscale(0.3).output_size((28, 28))  # ceil(8.4), not 8
    assert torch.equal(matlab(images), imresize(images, 0.3))
    assert not torch.allclose(Downscale(0.32, kernel="matlab")(images), Downscale(0.32)(images), atol=1e-3)


def test_a_batch_on_its_device_and_dtype() -> None:
    images = torch.rand(4, 3, 40, 40, dtype=torch.float64)
    out = imresize(images, 0.32)
    assert out.dtype == torch.float64 and out.shape == (4, 3, 13, 13)
    assert torch.allclose(out[1:2], imresize(images[1:2], 0.32))  # each image on its own, as in the batch

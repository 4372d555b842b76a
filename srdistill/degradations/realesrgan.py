"""Real-ESRGAN's second-order degradation (Wang et al. 2021), built from basicsr's own functions.

Blur (random kernels), random resize, Gaussian or Poisson noise and JPEG, applied twice, then the
resize to the target size with an optional sinc filter, as ``RealESRNetModel.feed_data`` and
``RealESRGANDataset`` do. Option names and defaults are those of Real-ESRGAN's
``options/train_realesrnet_x4plus.yml``, ``gt_usm: true`` included: in training the originals are
USM-sharpened first, and the sharpened image is both what is degraded and what the losses (and
the teacher) compare the SR image with (:meth:`RealESRGANDegradation.training_target`);
evaluation compares with the original itself, as Real-ESRGAN validates on unsharpened images.
One difference, because a degradation here maps one batch of originals to one batch of inputs:
every sample draws its own kernels, resize, noise and JPEG quality from its own seed (Real-ESRGAN
shares the resize across a batch and mixes batches through a pool of past samples instead); the
seeds come from torch's generator, so a seeded or resumed run degrades identically.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal

import torch
import torch.nn.functional as F
from pydantic import Field, model_validator
from torch import nn

from srdistill.compat.basicsr import install_torchvision_shim
from srdistill.errors import UserError
from srdistill.imaging import scaled_size
from srdistill.registry import ComponentConfig

KernelName = Literal["iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso"]
KERNELS: tuple[KernelName, ...] = (
    "iso",
    "aniso",
    "generalized_iso",
    "generalized_aniso",
    "plateau_iso",
    "plateau_aniso",
)
KERNEL_PROB = (0.45, 0.25, 0.12, 0.03, 0.12, 0.03)
Range = tuple[float, float]
UpDownKeep = tuple[float, float, float]
#: USMSharp's default 51×51 window reflects 25 pixels
USM_MIN_SIDE = 26


class RealESRGANConfig(ComponentConfig):
    """Real-ESRGAN's second-order degradation (basicsr functions), per-sample seeds, resized to 1/`scale`."""

    type: Literal["realesrgan"]
    scale: float = Field(4.0, ge=1, description="Output side = original side / scale (rounded half up).")
    gt_usm: bool = Field(
        True, description="In training, USM-sharpen the originals: the image degraded and the loss target alike."
    )
    # the first degradation
    resize_prob: UpDownKeep = Field((0.2, 0.7, 0.1), description="Probabilities of up, down, keep.")
    resize_range: Range = Field((0.15, 1.5), description="Resize factor range.")
    gaussian_noise_prob: float = Field(0.5, ge=0, le=1, description="Gaussian (else Poisson) noise probability.")
    noise_range: Range = Field((1.0, 30.0), description="Gaussian noise sigma range, in 0–255 units.")
    poisson_scale_range: Range = Field((0.05, 3.0), description="Poisson noise scale range.")
    gray_noise_prob: float = Field(
        0.4, ge=0, le=1, description="Probability that the noise is the same in all channels."
    )
    jpeg_range: Range = Field((30.0, 95.0), description="JPEG quality range.")
    # the second degradation
    second_blur_prob: float = Field(0.8, ge=0, le=1, description="Probability of the second blur.")
    resize_prob2: UpDownKeep = Field((0.3, 0.4, 0.3), description="Second resize: up, down, keep.")
    resize_range2: Range = Field((0.3, 1.2), description="Second resize factor range (of the output size).")
    gaussian_noise_prob2: float = Field(0.5, ge=0, le=1)
    noise_range2: Range = Field((1.0, 25.0))
    poisson_scale_range2: Range = Field((0.05, 2.5))
    gray_noise_prob2: float = Field(0.4, ge=0, le=1)
    jpeg_range2: Range = Field((30.0, 95.0))
    # blur kernels (RealESRGANDataset's options)
    blur_kernel_size: int = Field(21, ge=7, description="Largest kernel side (odd); sides 7..this are drawn.")
    kernel_list: tuple[KernelName, ...] = Field(KERNELS, min_length=1)
    kernel_prob: tuple[float, ...] = Field(KERNEL_PROB, description="Probability of each kernel_list entry.")
    sinc_prob: float = Field(0.1, ge=0, le=1, description="Probability of a sinc (ringing) kernel instead.")
    blur_sigma: Range = Field((0.2, 3.0))
    betag_range: Range = Field((0.5, 4.0), description="Generalised Gaussian shape range.")
    betap_range: Range = Field((1.0, 2.0), description="Plateau shape range.")
    blur_kernel_size2: int = Field(21, ge=7)
    kernel_list2: tuple[KernelName, ...] = Field(KERNELS, min_length=1)
    kernel_prob2: tuple[float, ...] = Field(KERNEL_PROB)
    sinc_prob2: float = Field(0.1, ge=0, le=1)
    blur_sigma2: Range = Field((0.2, 1.5))
    betag_range2: Range = Field((0.5, 4.0))
    betap_range2: Range = Field((1.0, 2.0))
    final_sinc_prob: float = Field(0.8, ge=0, le=1, description="Probability of the sinc filter at the end.")

    @model_validator(mode="after")
    def _consistent(self) -> RealESRGANConfig:
        for name, value in self:
            if name.endswith(("_range", "_range2")) and not (0 <= value[0] <= value[1]):
                raise ValueError(f"{name}: expected 0 <= low <= high, got {list(value)}")
            if name.startswith("jpeg_range") and not (value[0] >= 1 and value[1] < 100):
                raise ValueError(f"{name}: JPEG qualities lie in [1, 100) (DiffJPEG divides by zero at 100)")
            # basicsr's kernel sampler asserts a non-empty interval
            if name.startswith(("blur_sigma", "betag_range", "betap_range")) and not (0 < value[0] < value[1]):
                raise ValueError(f"{name}: expected 0 < low < high, got {list(value)}")
            if name.startswith("resize_prob") and not math.isclose(sum(value), 1.0, abs_tol=1e-6):
                raise ValueError(f"{name}: the up/down/keep probabilities must sum to 1, got {sum(value):g}")
        for kernels, probs in (("kernel_list", "kernel_prob"), ("kernel_list2", "kernel_prob2")):
            if len(getattr(self, kernels)) != len(getattr(self, probs)):
                raise ValueError(f"{probs} needs one probability per {kernels} entry")
        for name in ("blur_kernel_size", "blur_kernel_size2"):
            if getattr(self, name) % 2 == 0:
                raise ValueError(f"{name} must be odd")
        return self


@contextmanager
def _seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Python's, numpy's and torch's generators seeded with ``seed`` inside, restored after.

    basicsr's functions draw from the global generators, so each sample gets its own stream
    without disturbing anyone else's (the training loop's shuffling, augmentation, dropout).
    """
    import numpy as np

    py_state, np_state = random.getstate(), np.random.get_state()
    devices = (
        [device.index if device.index is not None else torch.cuda.current_device()] if device.type == "cuda" else []
    )
    try:
        with torch.random.fork_rng(devices=devices):
            random.seed(seed)
            np.random.seed(seed)
            torch.manual_seed(seed)
            yield
    finally:
        random.setstate(py_state)
        np.random.set_state(np_state)


def _fit(kernel: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """``kernel`` cropped (and renormalised) to what filter2D's reflect padding allows on h×w."""
    side = min(kernel.shape[-1], 2 * min(h, w) - 1)
    if side == kernel.shape[-1]:
        return kernel
    cut = (kernel.shape[-1] - side) // 2
    small = kernel[..., cut : cut + side, cut : cut + side]
    return small / small.sum()


class RealESRGANDegradation(nn.Module):
    """Maps originals ``(B, C, H, W)`` in [0, 1] to ``output_size((H, W))`` inputs, 8-bit quantised."""

    def __init__(self, cfg: RealESRGANConfig) -> None:
        super().__init__()
        install_torchvision_shim()  # basicsr 1.4.2 imports a module torchvision removed
        from basicsr.utils import DiffJPEG, USMSharp

        self.cfg = cfg
        self.jpeger = DiffJPEG(differentiable=False)
        self.usm = USMSharp()

    def output_size(self, size: tuple[int, int]) -> tuple[int, int]:
        return scaled_size(size, 1.0 / self.cfg.scale)

    @torch.no_grad()
    def training_target(self, images: torch.Tensor) -> torch.Tensor:
        """What training degrades and compares with: the originals, USM-sharpened when ``gt_usm``."""
        if not self.cfg.gt_usm:
            return images
        if min(images.shape[-2:]) < USM_MIN_SIDE:
            raise UserError(
                f"degradation.gt_usm needs images of at least {USM_MIN_SIDE} pixels a side; these are "
                f"{images.shape[-2]}×{images.shape[-1]}.",
                "Set degradation.gt_usm: false for images this small.",
            )
        return self.usm(images.float()).to(images.dtype)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        seeds = torch.randint(0, 2**31 - 1, (images.shape[0],)).tolist()  # torch's generator: seeded, resumable
        grey = images.shape[1] == 1
        out = []
        for image, seed in zip(images.float(), seeds, strict=True):
            with _seeded(seed, images.device):
                # basicsr's noise and JPEG code assume RGB: grey is degraded as RGB, then averaged back
                lr = self._degrade(image[None].expand(-1, 3, -1, -1) if grey else image[None])
            out.append((lr.mean(dim=1, keepdim=True) * 255.0).round() / 255.0 if grey else lr)
        return torch.cat(out).to(images.dtype)

    # -- one sample, in Real-ESRGAN's order ------------------------------------------------------------------

    def _degrade(self, x: torch.Tensor) -> torch.Tensor:
        import numpy as np
        from basicsr.utils.img_process_util import filter2D

        c = self.cfg
        h, w = x.shape[-2:]
        kernel1, kernel2, sinc = self._kernels(x.device)

        def blur(img: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
            return filter2D(img, _fit(kernel, *img.shape[-2:]))

        # the first degradation
        out = blur(x, kernel1)
        scale = self._resize_factor(c.resize_prob, c.resize_range)
        size = (max(1, int(h * scale)), max(1, int(w * scale)))  # F.interpolate's scale_factor sizes
        out = F.interpolate(out, size=size, mode=random.choice(["area", "bilinear", "bicubic"]))
        out = self._noise(out, c.gaussian_noise_prob, c.noise_range, c.poisson_scale_range, c.gray_noise_prob)
        out = self._jpeg(out, c.jpeg_range)
        # the second degradation
        if np.random.uniform() < c.second_blur_prob:
            out = blur(out, kernel2)
        scale = self._resize_factor(c.resize_prob2, c.resize_range2)
        size = (max(1, int(h / c.scale * scale)), max(1, int(w / c.scale * scale)))
        out = F.interpolate(out, size=size, mode=random.choice(["area", "bilinear", "bicubic"]))
        out = self._noise(out, c.gaussian_noise_prob2, c.noise_range2, c.poisson_scale_range2, c.gray_noise_prob2)
        # resize to the target size with the sinc filter, before or after the last JPEG
        target = self.output_size((h, w))
        if np.random.uniform() < 0.5:
            out = F.interpolate(out, size=target, mode=random.choice(["area", "bilinear", "bicubic"]))
            out = blur(out, sinc) if sinc is not None else out
            out = self._jpeg(out, c.jpeg_range2)
        else:
            out = self._jpeg(out, c.jpeg_range2)
            out = F.interpolate(out, size=target, mode=random.choice(["area", "bilinear", "bicubic"]))
            out = blur(out, sinc) if sinc is not None else out
        return torch.clamp((out * 255.0).round(), 0, 255) / 255.0

    def _kernels(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """The two blur kernels and the final sinc kernel (None: no final filter), as RealESRGANDataset draws them."""
        import numpy as np
        from basicsr.data.degradations import circular_lowpass_kernel, random_mixed_kernels

        c = self.cfg

        def draw(max_size: int, sinc_prob: float, kernels: Any, probs: Any, sigma: Range, bg: Range, bp: Range):
            size = random.choice(range(7, max_size + 1, 2))
            if np.random.uniform() < sinc_prob:
                omega_c = np.random.uniform(np.pi / 3, np.pi) if size < 13 else np.random.uniform(np.pi / 5, np.pi)
                kernel = circular_lowpass_kernel(omega_c, size, pad_to=False)
            else:
                kernel = random_mixed_kernels(
                    list(kernels), list(probs), size, sigma, sigma, [-math.pi, math.pi], bg, bp, noise_range=None
                )
            pad = (max_size - size) // 2
            return torch.as_tensor(np.pad(kernel, ((pad, pad), (pad, pad))), dtype=torch.float32, device=device)[None]

        k1 = draw(
            c.blur_kernel_size, c.sinc_prob, c.kernel_list, c.kernel_prob, c.blur_sigma, c.betag_range, c.betap_range
        )
        k2 = draw(
            c.blur_kernel_size2,
            c.sinc_prob2,
            c.kernel_list2,
            c.kernel_prob2,
            c.blur_sigma2,
            c.betag_range2,
            c.betap_range2,
        )
        sinc = None
        if np.random.uniform() < c.final_sinc_prob:
            size = random.choice(range(7, 22, 2))
            omega_c = np.random.uniform(np.pi / 3, np.pi)
            sinc = torch.as_tensor(
                circular_lowpass_kernel(omega_c, size, pad_to=21), dtype=torch.float32, device=device
            )
            sinc = sinc[None]
        return k1, k2, sinc

    @staticmethod
    def _resize_factor(probs: UpDownKeep, bounds: Range) -> float:
        import numpy as np

        updown = random.choices(["up", "down", "keep"], probs)[0]
        if updown == "up":
            return float(np.random.uniform(1, bounds[1]))
        if updown == "down":
            return float(np.random.uniform(bounds[0], 1))
        return 1.0

    @staticmethod
    def _noise(out: torch.Tensor, gaussian_prob: float, sigma: Range, poisson: Range, gray_prob: float) -> torch.Tensor:
        import numpy as np
        from basicsr.data.degradations import random_add_gaussian_noise_pt, random_add_poisson_noise_pt

        if np.random.uniform() < gaussian_prob:
            return random_add_gaussian_noise_pt(out, sigma_range=sigma, clip=True, rounds=False, gray_prob=gray_prob)
        return random_add_poisson_noise_pt(out, scale_range=poisson, gray_prob=gray_prob, clip=True, rounds=False)

    def _jpeg(self, out: torch.Tensor, quality: Range) -> torch.Tensor:
        q = out.new_zeros(out.shape[0]).uniform_(*quality)
        out = torch.clamp(out, 0, 1)  # clamp first, or the codec makes unpleasant artefacts (Real-ESRGAN's note)
        return self.jpeger(out, quality=q)


def build_realesrgan(cfg: RealESRGANConfig) -> RealESRGANDegradation:
    return RealESRGANDegradation(cfg)

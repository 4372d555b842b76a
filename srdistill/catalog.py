"""The six registries, the built-in components registered explicitly, and plugins.

Component modules import torch, so nothing is registered until :func:`catalog` is first
called; importing this module is cheap. Third-party packages add components through the
``srdistill.plugins`` entry-point group (see :mod:`srdistill.plugins`), discovered on that
first call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cache, partial
from typing import Any

from srdistill.registry import ComponentConfig, Registry


@dataclass(frozen=True)
class Catalog:
    """Every registry, by the recipe section it serves."""

    students: Registry[Any]
    teachers: Registry[Any]
    degradations: Registry[Any]
    losses: Registry[Any]
    datasets: Registry[Any]
    metrics: Registry[Any]

    #: one line per plugin that failed to load or clashed with a registered name
    problems: list[str] = field(default_factory=list, compare=False, hash=False)

    def registries(self) -> dict[str, Registry[Any]]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "problems"}


@cache
def catalog() -> Catalog:
    """The registries with every built-in and plugin component in them (built once)."""
    from srdistill.plugins import load_plugins

    cat = builtins()
    load_plugins(cat)
    return cat


def builtins() -> Catalog:
    """A new catalog holding the built-in components only."""
    from srdistill.data import fashion_mnist, image_folder, photo_folder, shards
    from srdistill.data.base import DatasetConfig
    from srdistill.degradations import blur, chain, jpeg, noise, realesrgan, resize
    from srdistill.losses import features, logits, pixel
    from srdistill.losses.base import WeightedConfig
    from srdistill.metrics import classification, image, lpips
    from srdistill.students import interpolation, rrdb, spandrel_student
    from srdistill.students.base import StudentConfig
    from srdistill.teachers import timm_teacher
    from srdistill.teachers.base import TeacherConfig

    cat = Catalog(
        students=Registry("student", StudentConfig),
        teachers=Registry("teacher", TeacherConfig),
        degradations=Registry("degradation"),
        losses=Registry("loss", WeightedConfig),
        datasets=Registry("data set", DatasetConfig),
        metrics=Registry("metric"),
    )
    built_in: dict[Registry[Any], list[tuple[type[ComponentConfig], Callable[..., Any]]]] = {
        cat.students: [
            (rrdb.RRDBConfig, rrdb.build_rrdb), (spandrel_student.SpandrelConfig, spandrel_student.build_spandrel),
            (interpolation.BicubicConfig, interpolation.build_interpolation),
            (interpolation.BilinearConfig, interpolation.build_interpolation),
        ],
        cat.teachers: [(timm_teacher.TimmTeacherConfig, timm_teacher.build_timm_teacher)],
        cat.degradations: [
            (resize.BicubicConfig, resize.build_bicubic), (blur.GaussianBlurConfig, blur.build_gaussian_blur),
            (noise.NoiseConfig, noise.build_noise), (jpeg.JPEGConfig, jpeg.build_jpeg),
            (chain.ChainConfig, partial(chain.build_chain, build_step=cat.degradations.build)),
            (realesrgan.RealESRGANConfig, realesrgan.build_realesrgan),
        ],
        cat.losses: [
            (logits.LogitMSEConfig, logits.build_logit_mse), (logits.CEGapConfig, logits.build_ce_gap),
            (logits.KLConfig, logits.build_kl), (pixel.PixelL1Config, pixel.build_pixel_l1),
            (features.FeatureConfig, features.build_feature), (features.PerceptualConfig, features.build_perceptual),
        ],
        cat.datasets: [
            (fashion_mnist.FashionMNISTConfig, fashion_mnist.build_fashion_mnist),
            (image_folder.ImageFolderConfig, image_folder.build_image_folder),
            (shards.ShardsConfig, shards.build_shards),
            (photo_folder.PhotoFolderConfig, photo_folder.build_photo_folder),
        ],
    }  # fmt: skip
    for registry, entries in built_in.items():
        for config, build in entries:
            registry.add(config, build)
    for name, metric in (
        ("top1", classification.Top1), ("top5", classification.Top5), ("ce", classification.CrossEntropy),
        ("logit_mse", classification.LogitMSE), ("agreement", classification.Agreement),
        ("ce_gap", classification.CEGap), ("psnr", image.PSNR), ("ssim", image.SSIM), ("psnr_y", image.PSNRY),
        ("ssim_y", image.SSIMY), ("lpips", lpips.LPIPS),
    ):  # fmt: skip
        cat.metrics.add(name, metric)
    return cat

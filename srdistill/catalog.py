"""The six registries, the built-in components registered explicitly, and plugins.

Component modules import torch, so nothing is registered until :func:`catalog` is first
called; importing this module is cheap. Third-party packages add components through the
``srdistill.plugins`` entry-point group (see :mod:`srdistill.plugins`), discovered on that
first call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from functools import cache
from typing import Any

from srdistill.registry import Registry


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
    from srdistill.data import fashion_mnist, image_folder, photo_folder
    from srdistill.degradations import blur, chain, jpeg, noise, resize
    from srdistill.losses import features, logits, pixel
    from srdistill.metrics import classification, image
    from srdistill.students import interpolation, rrdb, spandrel_student
    from srdistill.teachers import timm_teacher

    cat = Catalog(
        students=Registry("student"),
        teachers=Registry("teacher"),
        degradations=Registry("degradation"),
        losses=Registry("loss"),
        datasets=Registry("data set"),
        metrics=Registry("metric"),
    )
    cat.students.add(rrdb.RRDBConfig, rrdb.build_rrdb)
    cat.students.add(interpolation.BicubicConfig, interpolation.build_interpolation)
    cat.students.add(interpolation.BilinearConfig, interpolation.build_interpolation)
    cat.students.add(spandrel_student.SpandrelConfig, spandrel_student.build_spandrel)

    cat.teachers.add(timm_teacher.TimmTeacherConfig, timm_teacher.build_timm_teacher)

    cat.degradations.add(resize.BicubicConfig, resize.build_bicubic)
    cat.degradations.add(blur.GaussianBlurConfig, blur.build_gaussian_blur)
    cat.degradations.add(noise.NoiseConfig, noise.build_noise)
    cat.degradations.add(jpeg.JPEGConfig, jpeg.build_jpeg)
    cat.degradations.add(chain.ChainConfig, chain.build_chain)

    cat.losses.add(logits.LogitMSEConfig, logits.build_logit_mse)
    cat.losses.add(logits.CEGapConfig, logits.build_ce_gap)
    cat.losses.add(logits.KLConfig, logits.build_kl)
    cat.losses.add(pixel.PixelL1Config, pixel.build_pixel_l1)
    cat.losses.add(features.FeatureConfig, features.build_feature)
    cat.losses.add(features.PerceptualConfig, features.build_perceptual)

    cat.datasets.add(fashion_mnist.FashionMNISTConfig, fashion_mnist.build_fashion_mnist)
    cat.datasets.add(image_folder.ImageFolderConfig, image_folder.build_image_folder)
    cat.datasets.add(photo_folder.PhotoFolderConfig, photo_folder.build_photo_folder)

    cat.metrics.add("top1", classification.Top1)
    cat.metrics.add("top5", classification.Top5)
    cat.metrics.add("ce", classification.CrossEntropy)
    cat.metrics.add("logit_mse", classification.LogitMSE)
    cat.metrics.add("agreement", classification.Agreement)
    cat.metrics.add("psnr", image.PSNR)
    cat.metrics.add("ssim", image.SSIM)
    return cat

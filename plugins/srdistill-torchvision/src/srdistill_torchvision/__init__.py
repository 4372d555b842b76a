"""srdistill plugin: torchvision classifiers and segmentation models as teachers, and a dense loss."""

from __future__ import annotations

from typing import Any

from srdistill_torchvision.classifier import TorchvisionTeacherConfig, build_torchvision_teacher
from srdistill_torchvision.losses import MapKLConfig, build_map_kl
from srdistill_torchvision.segmentation import SegmentationTeacherConfig, build_segmentation_teacher


def register(registries: Any) -> None:
    """Called once by srdistill (entry point ``srdistill.plugins``) with its registries."""
    registries.teachers.add(TorchvisionTeacherConfig, build_torchvision_teacher)
    registries.teachers.add(SegmentationTeacherConfig, build_segmentation_teacher)
    registries.losses.add(MapKLConfig, build_map_kl)

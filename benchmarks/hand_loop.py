"""(a) of ``train_speed.py``: a minimal hand-written loop for the recipe's models, wired by hand.

basicsr ``RRDBNet``, a timm teacher, kornia resizes, ``torch.optim.Adam``: degrade, super-resolve,
resize, the frozen teacher on the original (no grad) and on the SR image, logit MSE, backward, step.
It follows the recipe's runtime switches (channels-last, bf16, ``runtime.compile``, the device flags)
so that srdistill's trainer and this loop do the same arithmetic.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode

from srdistill.data.base import collate
from srdistill.engine.devices import synchronize
from srdistill.imaging import center_crop, resize, scaled_size
from srdistill.recipe.schema import Recipe


@dataclass
class HandWritten:
    """The same models and data as ``recipe``, wired by hand.

    The teacher's preprocessing numbers (resize, crop, interpolation, mean, std) are those
    srdistill resolved for the recipe (``teacher_preprocessing.json``), so both do the same work.
    """

    recipe: Recipe
    device: torch.device
    prep: dict[str, Any]
    num_classes: int
    channels: int
    plain: bool = False  # float32, contiguous, no autocast: the eager baseline, whatever the recipe says
    student: torch.nn.Module = field(init=False)
    teacher: torch.nn.Module = field(init=False)

    def __post_init__(self) -> None:
        import timm

        from srdistill.compat.basicsr import rrdbnet_class

        r, s, c = self.recipe, self.recipe.student, self.channels
        self.student = rrdbnet_class()(c, c, num_feat=s.num_feat, num_block=s.num_block, num_grow_ch=s.num_grow_ch,
                                       scale=4)  # fmt: skip
        self.teacher = timm.create_model(r.teacher.model, pretrained=False, num_classes=self.num_classes,
                                         in_chans=len(self.prep["mean"]))  # fmt: skip
        self.input_size = tuple(self.prep["input_size"])
        self.resize_size = tuple(self.prep["resize_size"])
        self.interpolation = self.prep["interpolation"]
        self.mean = torch.tensor(self.prep["mean"], device=self.device).view(1, -1, 1, 1)
        self.std = torch.tensor(self.prep["std"], device=self.device).view(1, -1, 1, 1)
        memory = torch.channels_last if r.runtime.channels_last and not self.plain else torch.contiguous_format
        self.student.to(self.device, memory_format=memory)
        self.teacher.to(self.device, memory_format=memory).eval().requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.student.parameters(), lr=r.train.optimizer.lr)
        if not self.plain:
            self.compile(r.runtime.compile)

    def compile(self, mode: str) -> None:
        """``runtime.compile`` by hand: RRDBNet's blocks and the ResNet's bottlenecks, or both models whole."""
        if mode == "regional":
            blocks = list(self.student.body) + [b for stage in self.teacher_stages() for b in stage]
            for block in blocks:
                block.compile()
        elif mode != "none":
            for model in (self.student, self.teacher):
                model.compile(mode=None if mode == "default" else mode)

    def teacher_stages(self) -> list[torch.nn.Sequential]:
        return [getattr(self.teacher, f"layer{i}") for i in range(1, 5) if hasattr(self.teacher, f"layer{i}")]

    def autocast(self) -> AbstractContextManager[object]:
        if self.recipe.runtime.amp == "bf16" and not self.plain:
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return nullcontext()

    def classify(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[1] == 1 and self.mean.shape[1] == 3:
            x = x.expand(-1, 3, -1, -1)
        x = center_crop(resize(x, self.resize_size, self.interpolation), self.input_size)
        return self.teacher((x - self.mean) / self.std)

    def super_resolve(self, hr: torch.Tensor) -> torch.Tensor:
        lr = resize(hr, scaled_size(tuple(hr.shape[-2:]), self.recipe.degradation.factor), "bicubic")
        return resize(self.student(lr), tuple(hr.shape[-2:]), "bicubic")

    def train_step(self, images: torch.Tensor) -> None:
        hr = images.to(self.device, non_blocking=True).float() / 255
        with self.autocast():
            sr = self.super_resolve(hr)
            with torch.no_grad():
                target = self.classify(hr)
            loss = F.mse_loss(self.classify(sr).float(), target.float())
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()

    @torch.no_grad()
    def eval_step(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        hr = images.to(self.device, non_blocking=True).float() / 255
        labels = labels.to(self.device, non_blocking=True)
        with self.autocast():
            ref = self.classify(hr).argmax(1)
            sr = self.super_resolve(hr).clamp_(0, 1)
            out = self.classify(sr).argmax(1)
        return torch.stack([(ref == labels).sum(), (out == labels).sum()])


def loader(dataset: Any, batch: int, workers: int, device: torch.device, shuffle: bool) -> DataLoader:
    """A plain DataLoader with the recipe's worker count (workers kept across epochs, as srdistill does)."""
    return DataLoader(dataset, batch_size=batch, shuffle=shuffle, collate_fn=collate, drop_last=True,
                      num_workers=workers, persistent_workers=workers > 0, pin_memory=device.type == "cuda",
                      generator=torch.Generator().manual_seed(0))  # fmt: skip


def timed(run: Callable[[], int], device: torch.device) -> float:
    """Images per second of ``run()`` (which returns how many images it processed)."""
    synchronize(device)
    start = time.perf_counter()
    images = run()
    synchronize(device)
    return images / (time.perf_counter() - start)


def train_epoch(hand: HandWritten, dataset: Any, batch: int) -> Callable[[], int]:
    data = loader(dataset, batch, hand.recipe.train.num_workers, hand.device, shuffle=True)

    def epoch() -> int:
        seen = 0
        for images, _, _ in data:
            hand.train_step(images)
            seen += len(images)
        return seen

    return epoch


def eval_epoch(hand: HandWritten, dataset: Any, batch: int) -> Callable[[], int]:
    data = loader(dataset, batch, hand.recipe.compare.num_workers, hand.device, shuffle=False)

    def epoch() -> int:
        seen = 0
        for images, labels, _ in data:
            hand.eval_step(images, labels)
            seen += len(images)
        return seen

    return epoch


def step_flops(hand: HandWritten, dataset: Any) -> tuple[float, float]:
    """FLOPs per image of one training step and of one evaluation step (batch of 2)."""
    images = torch.stack([dataset[i][0] for i in range(2)])
    labels = torch.zeros(2, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        hand.train_step(images)
    train_flops = counter.get_total_flops() / 2
    with FlopCounterMode(display=False) as counter:
        hand.eval_step(images, labels)
    return train_flops, counter.get_total_flops() / 2

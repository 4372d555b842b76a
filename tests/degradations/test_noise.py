"""Gaussian noise: the asked std, seeded, clipped to [0, 1]."""

from __future__ import annotations

import pytest
import torch

from srdistill.degradations.noise import GaussianNoise


def test_noise_has_the_asked_std_is_seeded_and_clipped() -> None:
    images = torch.full((4, 1, 64, 64), 0.5)
    torch.manual_seed(1)
    a = GaussianNoise(0.05)(images)
    torch.manual_seed(1)
    b = GaussianNoise(0.05)(images)
    assert torch.equal(a, b)
    assert (a - images).std().item() == pytest.approx(0.05, rel=0.05)
    assert GaussianNoise(1.0)(images).min() >= 0 and GaussianNoise(1.0)(images).max() <= 1

"""TensorBoard logs: scalars during and after each epoch, reconstruction grids of the student."""

from __future__ import annotations

import pytest
import torch

from srdistill.engine.board import Board, reconstruction_grid

pytest.importorskip("tensorboard")


def events(folder):  # type: ignore[no-untyped-def]
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(folder), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_student_run_logs_scalars_and_grids(cli, write_recipe, tmp_path) -> None:
    recipe = write_recipe(train={"epochs": 2, "batch_size": 16, "max_steps_per_epoch": 2, "log_every": 1,
                                 "optimizer": {"name": "adam", "lr": 1e-3}})  # fmt: skip
    result = cli("train", recipe)
    assert result.exit_code == 0, result.output
    acc = events(tmp_path / "runs" / "tiny" / "tensorboard")
    tags = acc.Tags()
    assert {"train/loss", "epoch/val_ce_gap", "epoch/val_psnr", "epoch/train_loss"} <= set(tags["scalars"])
    assert [e.step for e in acc.Scalars("train/loss")] == [1, 2, 3, 4]
    assert len(acc.Scalars("epoch/val_top1")) == 2
    assert tags["images"] == ["reconstructions"] and len(acc.Images("reconstructions")) == 2


def test_switched_off(cli, write_recipe, tmp_path) -> None:
    result = cli("train", write_recipe(), "--set", "train.tensorboard=false")
    assert result.exit_code == 0, result.output
    assert not (tmp_path / "runs" / "tiny" / "tensorboard").exists()
    assert Board(tmp_path, False).writer is None


def test_reconstruction_grid_layout() -> None:
    hr, lr, sr = torch.rand(4, 1, 28, 28), torch.rand(4, 1, 9, 9), torch.rand(4, 1, 28, 28)
    grid = reconstruction_grid(hr, lr, sr)
    assert grid.shape == (3, 4 * 30 + 2, 3 * 30 + 2)  # 4 rows of original | degraded | SR, 2 px padding

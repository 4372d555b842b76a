"""A student rebuilt from a checkpoint: srdistill's own (its config in the metadata) or any RRDB weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from srdistill.catalog import catalog
from srdistill.checkpoints import component_metadata, save_weights
from srdistill.checkpoints.student import check_student_metadata
from srdistill.checkpoints.student import load_student_checkpoint as load_checkpoint
from srdistill.compat.basicsr import rrdbnet_class
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.students.rrdb import RRDBConfig

GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))


def load_student_checkpoint(path: Path, info: DataInfo, fallback: RRDBConfig | None):  # type: ignore[no-untyped-def]
    return load_checkpoint(path, info, fallback, catalog().students)


def rrdb_net(num_feat: int = 8, seed: int = 0):  # type: ignore[no-untyped-def]
    torch.manual_seed(seed)
    return rrdbnet_class()(1, 1, scale=4, num_feat=num_feat, num_block=1, num_grow_ch=4)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    student = tmp_path / "student.safetensors"
    config = RRDBConfig(type="rrdb", num_feat=8, num_block=1, num_grow_ch=4)
    save_weights(rrdb_net(), student, component_metadata("student", config))
    wide = tmp_path / "wide.safetensors"  # an architecture other than the recipe's student section
    save_weights(rrdb_net(num_feat=12), wide, component_metadata("student", config.model_copy(update={"num_feat": 12})))
    basicsr = tmp_path / "esrgan.pth"
    torch.save({"params_ema": rrdb_net(seed=1).state_dict()}, basicsr)
    return {"student": student, "wide": wide, "basicsr": basicsr}


def test_foreign_checkpoint_uses_the_recipe_architecture(files) -> None:
    fallback = RRDBConfig(type="rrdb", num_feat=8, num_block=1, num_grow_ch=4, weights=files["student"])
    student = load_student_checkpoint(files["basicsr"], GREY, fallback)
    expected = rrdb_net(seed=1)
    for k, v in expected.state_dict().items():
        assert torch.equal(student.net.state_dict()[k], v)
    with pytest.raises(UserError, match="does not say which student"):
        load_student_checkpoint(files["basicsr"], GREY, None)
    with pytest.raises(UserError, match="wrong shape"):
        load_student_checkpoint(
            files["basicsr"], GREY, RRDBConfig(type="rrdb", num_feat=16, num_block=1, num_grow_ch=4)
        )


def test_srdistill_checkpoint_rebuilds_its_own_architecture(files, tmp_path: Path) -> None:
    # the recipe's student section says num_feat 8, the checkpoint says 12: the checkpoint wins, and
    # the initial weights it was trained from are not needed any more
    fallback = RRDBConfig(type="rrdb", num_feat=8, num_block=1, num_grow_ch=4, weights=tmp_path / "gone.pth")
    student = load_student_checkpoint(files["wide"], GREY, fallback)
    assert student.net.conv_first.weight.shape == (12, 1, 3, 3)
    with pytest.raises(UserError, match="Checkpoint not found"):
        load_student_checkpoint(tmp_path / "nope.safetensors", GREY, fallback)


def test_malformed_metadata_is_named_field_by_field(tmp_path: Path) -> None:
    path = tmp_path / "odd.safetensors"
    save_weights(rrdb_net(), path, {"role": 3, "channels": 0, "config": {"type": "rrdb", "num_block": "many"}})
    with pytest.raises(UserError) as info:
        check_student_metadata(path)
    problem = info.value.problem
    assert "role: expected a string" in problem and "channels: expected a positive whole number" in problem
    assert "config.num_block" in problem
    assert check_student_metadata(tmp_path / "plain.pth") == {}

"""Feature losses: the teacher's intermediate layers, and the VGG19 perceptual loss."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision

from srdistill.errors import UserError
from srdistill.losses.base import LossInputs, WeightedSum
from srdistill.losses.features import (
    FeatureDistance,
    PerceptualConfig,
    build_perceptual,
    capture,
    check_layers,
)


def test_feature_loss_is_the_mean_distance_over_layers() -> None:
    a, b = torch.zeros(2, 3, 4, 4), torch.ones(2, 3, 4, 4)
    c, d = torch.zeros(2, 5), torch.full((2, 5), 2.0)
    loss = FeatureDistance(["x", "y"])
    inputs = LossInputs(torch.zeros(1), torch.zeros(1), torch.zeros(1), hr_features={"x": a, "y": c},
                        sr_features={"x": b, "y": d})  # fmt: skip
    assert loss(inputs).item() == pytest.approx((1.0 + 4.0) / 2)
    assert FeatureDistance(["x", "y"], "l1")(inputs).item() == pytest.approx((1.0 + 2.0) / 2)  # SR4IR's L1
    assert WeightedSum([("f", 1.0, loss)]).needs_teacher and loss.teacher_layers == ("x", "y")


def test_capture_records_named_layers_and_removes_its_hooks() -> None:
    net = torchvision.models.resnet18(num_classes=3).eval()
    with capture(net, ("layer2", "layer3.1.conv2")) as found:
        net(torch.rand(1, 3, 64, 64))
    assert found["layer2"].shape == (1, 128, 8, 8) and found["layer3.1.conv2"].shape == (1, 256, 4, 4)
    assert not net.layer2._forward_hooks


def test_unknown_layers_are_named_with_a_suggestion() -> None:
    net = torchvision.models.resnet18(num_classes=3)
    with pytest.raises(UserError, match=r"no layer 'layr2'\. Did you mean 'layer2'"):
        check_layers(net, ("layr2",))


def test_student_training_with_feature_loss(cli, write_recipe) -> None:
    result = cli("train", write_recipe(losses=[{"type": "feature", "layers": ["layer1", "layer2"]}]))
    assert result.exit_code == 0, result.output
    result = cli("train", write_recipe(losses=[{"type": "feature", "layers": ["nope"]}]), "--overwrite")
    assert result.exit_code == 1 and "no layer 'nope'" in result.output


@pytest.fixture
def vgg_head(tmp_path: Path) -> tuple[Path, torch.nn.Module]:
    """The first layers of a (random) torchvision VGG19, saved like torchvision's file."""
    torch.manual_seed(0)
    vgg = torchvision.models.vgg19(weights=None)
    state = {k: v for k, v in vgg.state_dict().items() if k.startswith("features.") and int(k.split(".")[1]) <= 7}
    path = tmp_path / "vgg19_head.pth"
    torch.save(state, path)
    return path, vgg.features


def test_perceptual_loss_matches_vgg_features(vgg_head) -> None:
    path, features = vgg_head
    loss = build_perceptual(PerceptualConfig(type="perceptual", weights=path, layers={"conv1_2": 1.0, "conv2_2": 0.5}))
    hr, sr = torch.rand(2, 1, 16, 16), torch.rand(2, 1, 16, 16)
    mean, std = (
        torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1),
        torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1),
    )

    def feats(x: torch.Tensor, i: int) -> torch.Tensor:
        return features[: i + 1]((x.expand(-1, 3, -1, -1) - mean) / std)

    expected = F.l1_loss(feats(sr, 2), feats(hr, 2)) + 0.5 * F.l1_loss(feats(sr, 7), feats(hr, 7))
    assert loss(LossInputs(hr, sr, torch.zeros(2))).item() == pytest.approx(expected.item(), rel=1e-5)
    assert loss(LossInputs(hr, hr.clone(), torch.zeros(2))).item() == 0.0
    assert not loss.needs_teacher


def test_perceptual_layers_deeper_than_the_file_are_reported(vgg_head) -> None:
    path, _ = vgg_head
    with pytest.raises(UserError, match="missing"):
        build_perceptual(PerceptualConfig(type="perceptual", weights=path, layers={"conv3_1": 1.0}))
    with pytest.raises(UserError, match="no VGG19 layer conv9_9"):
        build_perceptual(PerceptualConfig(type="perceptual", weights=path, layers={"conv9_9": 1.0}))


def test_a_layer_followed_by_an_inplace_activation_is_read_before_it() -> None:
    """timm's ResNet applies ReLU(inplace=True) to bn1's output: the captured value is bn1's, negatives kept."""
    import timm

    net = timm.create_model("test_resnet", num_classes=3).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        expected = net.bn1(net.conv1(x))
        with capture(net, ("bn1",)) as found:
            net(x)
    assert expected.min() < 0 and torch.equal(found["bn1"], expected)  # not the ReLU's output


def test_an_ensemble_member_missing_a_layer_is_named_as_such() -> None:
    net = torchvision.models.resnet18(num_classes=3)
    with pytest.raises(UserError, match=r"The model of teachers 'b' has no layer 'layr2'") as e:
        check_layers(net, ("layr2",), "teachers 'b'")
    assert "teachers 'b''s model" in (e.value.fix or "")

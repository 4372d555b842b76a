"""LPIPS: the lpips package's AlexNet LPIPS with its backbone from a checked local file or torch's hub cache."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import srdistill.metrics.lpips as lpips_module
from srdistill.errors import UserError
from srdistill.metrics.base import EvalBatch
from srdistill.metrics.lpips import LPIPS, lpips_network


def batch(hr: torch.Tensor, sr: torch.Tensor) -> EvalBatch:
    n = len(hr)
    return EvalBatch(hr, sr, torch.zeros(n, dtype=torch.long), torch.zeros(n, 3), torch.zeros(n, 3))


def images(channels: int = 3, n: int = 2, side: int = 40) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(n, channels, side, side)


@pytest.fixture
def no_download(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch.hub

    def refuse(*args, **kwargs):
        raise AssertionError("LPIPS tried to download its backbone")

    monkeypatch.setattr(torch.hub, "download_url_to_file", refuse)
    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", refuse)


def test_zero_on_identical_images_and_growing_with_the_distortion(lpips_backbone, no_download) -> None:
    hr = images()
    metric = LPIPS()
    assert torch.allclose(metric.per_image(batch(hr, hr)), torch.zeros(2), atol=1e-6)
    torch.manual_seed(1)
    noise = torch.randn_like(hr)
    small = metric.per_image(batch(hr, (hr + 0.05 * noise).clamp(0, 1)))
    large = metric.per_image(batch(hr, (hr + 0.3 * noise).clamp(0, 1)))
    assert small.shape == (2,) and bool((small > 0).all()) and bool((large > small).all())


def test_values_are_per_image(lpips_backbone, no_download) -> None:
    hr = images()
    sr = hr.clone()
    sr[1] = 1 - sr[1]
    values = LPIPS().per_image(batch(hr, sr))
    assert values[0].item() == pytest.approx(0.0, abs=1e-6) and values[1].item() > 0


def test_grey_images_are_repeated_to_rgb(lpips_backbone, no_download) -> None:
    grey = images(channels=1)
    sr = (grey + 0.1).clamp(0, 1)
    rgb = LPIPS().per_image(batch(grey.expand(-1, 3, -1, -1), sr.expand(-1, 3, -1, -1)))
    assert torch.allclose(LPIPS().per_image(batch(grey, sr)), rgb)


def test_the_same_numbers_as_torchmetrics_lpips_on_the_same_backbone(lpips_backbone: Path) -> None:
    """An independent implementation (torchmetrics') given the same backbone gives the same distances."""
    from torchmetrics.functional.image.lpips import _NoTrainLpips

    reference = _NoTrainLpips(net="alex", pnet_rand=True).eval()
    state = torch.load(lpips_backbone, weights_only=True)
    reference.net.load_state_dict({k: state[f"features.{k.split('.', 1)[1]}"] for k in reference.net.state_dict()})
    hr = images(n=3)
    torch.manual_seed(2)
    sr = (hr + 0.2 * torch.randn_like(hr)).clamp(0, 1)
    with torch.no_grad():
        expected = reference(sr, hr, normalize=True).flatten()
    assert torch.allclose(LPIPS().per_image(batch(hr, sr)), expected, atol=1e-6)


def test_the_backbone_file_is_what_the_network_runs(lpips_backbone: Path) -> None:
    """lpips numbers AlexNet's layers within its slices as torchvision does."""
    state = torch.load(lpips_backbone, weights_only=True)
    net = lpips_network(torch.device("cpu"))
    own = net.net.state_dict()
    assert torch.equal(own["slice1.0.weight"], state["features.0.weight"])
    assert torch.equal(own["slice2.3.weight"], state["features.3.weight"])
    assert torch.equal(own["slice5.10.bias"], state["features.10.bias"])
    assert not any(p.requires_grad for p in net.parameters())


def test_a_full_alexnet_file_in_torchs_hub_cache_is_used(
    alexnet_features_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_download
) -> None:
    import torch.hub

    from srdistill.weights import sha256_of

    monkeypatch.delenv("SRDISTILL_LPIPS_BACKBONE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    cached = tmp_path / "hub" / "checkpoints" / lpips_module.BACKBONE_FILE
    cached.parent.mkdir(parents=True)
    state = torch.load(alexnet_features_file, weights_only=True)
    state |= {"classifier.1.weight": torch.zeros(2, 2)}  # torchvision's file also holds the classifier
    torch.save(state, cached)
    monkeypatch.setattr(lpips_module, "BACKBONE_SHA256_PREFIX", sha256_of(cached)[:8])
    hr = images()
    assert LPIPS().per_image(batch(hr, hr)).abs().max() < 1e-6
    monkeypatch.setattr(lpips_module, "BACKBONE_SHA256_PREFIX", "00000000")
    with pytest.raises(UserError, match="SHA-256") as e:
        LPIPS().per_image(batch(hr, hr))
    assert str(cached) in e.value.problem


def test_a_missing_backbone_says_which_file_goes_where(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, no_download
) -> None:
    import torch.hub

    monkeypatch.delenv("SRDISTILL_LPIPS_BACKBONE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    with pytest.raises(UserError) as e:
        LPIPS().per_image(batch(images(), images()))
    expected = tmp_path / "hub" / "checkpoints" / "alexnet-owt-7be5be79.pth"
    assert "alexnet-owt-7be5be79.pth" in e.value.problem and str(expected.parent) in e.value.problem
    assert str(expected) in (e.value.fix or "") and lpips_module.BACKBONE_URL in (e.value.fix or "")
    monkeypatch.setenv("SRDISTILL_LPIPS_BACKBONE", str(tmp_path / "nowhere.pth"))
    with pytest.raises(UserError, match=r"nowhere\.pth"):
        LPIPS().per_image(batch(images(), images()))


def test_a_backbone_named_by_the_variable_is_hash_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An AlexNet with random weights is refused, not used to print LPIPS numbers."""
    import torchvision

    torch.manual_seed(3)
    random_alexnet = tmp_path / "alexnet-random.pth"
    torch.save(torchvision.models.alexnet(weights=None).state_dict(), random_alexnet)
    monkeypatch.setenv("SRDISTILL_LPIPS_BACKBONE", str(random_alexnet))
    with pytest.raises(UserError, match="is not torchvision's AlexNet file") as e:
        LPIPS().per_image(batch(images(), images()))
    assert lpips_module.BACKBONE_SHA256_PREFIX in e.value.problem and str(random_alexnet) in e.value.problem
    assert lpips_module.BACKBONE_URL in (e.value.fix or "")


def test_images_too_small_for_alexnet_are_an_error_with_the_fix(lpips_backbone) -> None:
    with pytest.raises(UserError, match=r"compare\.metrics"):
        LPIPS().per_image(batch(images(channels=1, side=28), images(channels=1, side=28)))


@pytest.mark.parametrize("where", ["train.monitor", "compare.metrics"])
def test_a_missing_backbone_stops_the_dry_run_before_any_epoch(
    cli, make_recipe, image_tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flatten, no_download, where
) -> None:
    """Without AlexNet's file, lpips as the monitor (or a compare metric) is refused at --dry-run, not after epoch 1."""
    import torch.hub
    import yaml

    monkeypatch.delenv("SRDISTILL_LPIPS_BACKBONE", raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    recipe = make_recipe(tmp_path)
    recipe["data"] = {"type": "image_folder", "root": str(image_tree), "hr_size": 32, "channels": 3}
    recipe["teacher"] |= {"input_size": 32, "mean": [0.5] * 3, "std": [0.5] * 3}
    if where == "train.monitor":
        recipe["train"]["monitor"] = "lpips"
    else:
        recipe["compare"]["metrics"] = ["top1", "lpips"]
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(recipe))
    result = cli("train", path, "--dry-run")
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "lpips needs torchvision's ImageNet AlexNet weights" in flatten(result.output)
    assert not (tmp_path / "runs").exists()

"""Teacher weights from the Hugging Face hub: huggingface_hub's cache, offline switch and cache scan.

Every test runs against a cache built in a temp folder (``weight_caches``) with small generated
weights; the network is never reached (downloads are faked, or go to a closed local port).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import huggingface_hub
import pytest
import timm
import torch
from safetensors.torch import save_file

import srdistill.hf_hub as hf_hub
from srdistill.data.base import DataInfo
from srdistill.errors import UserError
from srdistill.teachers.timm_teacher import TimmTeacherConfig, build_timm_teacher

GREY = DataInfo(channels=1, num_classes=10, hr_size=(28, 28), class_names=tuple("abcdefghij"))
TEST_RESNET_HUB = "timm/test_resnet.r160_in1k"  # timm's hub repo for test_resnet's pretrained weights
HF_DOWNLOAD = huggingface_hub.hf_hub_download  # the real one, before the fixtures disarm it


@pytest.fixture(autouse=True)
def caches(weight_caches: dict[str, Path]) -> dict[str, Path]:
    return weight_caches


def hf_cache_entry(cache: Path, repo: str, files: dict[str, bytes], commit: str = "0" * 40) -> Path:
    """Lay out ``files`` as huggingface_hub caches a download of ``repo`` at revision main."""
    folder = cache / f"models--{repo.replace('/', '--')}"
    (folder / "refs").mkdir(parents=True)
    (folder / "refs" / "main").write_text(commit)
    snapshot = folder / "snapshots" / commit
    snapshot.mkdir(parents=True)
    for name, data in files.items():
        (snapshot / name).write_bytes(data)
    return snapshot


def grey_resnet_weights(tmp_path: Path, seed: int, **kwargs) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = timm.create_model("test_resnet", pretrained=False, num_classes=10, in_chans=1, **kwargs)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, tmp_path / f"w{seed}.safetensors")
    return state


def teacher_config(**settings) -> TimmTeacherConfig:
    """test_resnet for grey images (ImageNet's 3-value mean/std replaced unless a test sets them)."""
    return TimmTeacherConfig(**{"type": "timm", "model": "test_resnet", "mean": [0.5], "std": [0.5], **settings})


def assert_loaded(teacher, state: dict[str, torch.Tensor]) -> None:
    own = teacher.model.state_dict()
    assert all(torch.equal(own[k], v) for k, v in state.items())


def test_pretrained_true_reads_timms_hub_repo_from_the_cache(tmp_path: Path, caches) -> None:
    state = grey_resnet_weights(tmp_path, seed=3)
    files = {"model.safetensors": (tmp_path / "w3.safetensors").read_bytes()}
    hf_cache_entry(caches["hf"], TEST_RESNET_HUB, files)
    assert hf_hub.timm_hub_ref("test_resnet") == f"hf-hub:{TEST_RESNET_HUB}"
    teacher = build_timm_teacher(teacher_config(pretrained=True), GREY)
    assert_loaded(teacher, state)


def test_weights_hf_hub_reads_any_repo_and_its_preprocessing(tmp_path: Path, caches) -> None:
    state = grey_resnet_weights(tmp_path, seed=4)
    config = {"architecture": "test_resnet", "pretrained_cfg": {"mean": [0.25], "std": [0.125], "crop_pct": 0.5}}
    files = {
        "model.safetensors": (tmp_path / "w4.safetensors").read_bytes(),
        "config.json": json.dumps(config).encode(),
    }
    hf_cache_entry(caches["hf"], "someone/grey-resnet", files)
    teacher = build_timm_teacher(teacher_config(weights="hf-hub:someone/grey-resnet", mean=None, std=None), GREY)
    assert_loaded(teacher, state)
    prep = teacher.preprocessing()
    assert prep["mean"] == [0.25] and prep["std"] == [0.125] and prep["crop_pct"] == 0.5


def test_a_pytorch_bin_in_the_hub_repo_is_read_without_unpickling_code(tmp_path: Path, caches) -> None:
    state = grey_resnet_weights(tmp_path, seed=5)
    torch.save(state, tmp_path / "pytorch_model.bin")
    hf_cache_entry(
        caches["hf"], "someone/bin-resnet", {"pytorch_model.bin": (tmp_path / "pytorch_model.bin").read_bytes()}
    )
    teacher = build_timm_teacher(teacher_config(weights="hf-hub:someone/bin-resnet"), GREY)
    assert_loaded(teacher, state)


def test_offline_a_missing_hub_repo_says_what_to_run(caches) -> None:
    with pytest.raises(UserError) as e:
        build_timm_teacher(teacher_config(pretrained=True), GREY)
    assert "HF_HUB_OFFLINE" in e.value.problem and str(caches["hf"]) in e.value.problem
    assert f"srdistill weights fetch hf-hub:{TEST_RESNET_HUB}" in (e.value.fix or "")


def test_online_the_hub_file_is_downloaded_into_the_hf_cache(tmp_path: Path, caches, monkeypatch) -> None:
    import huggingface_hub

    state = grey_resnet_weights(tmp_path, seed=6)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    calls = []

    def fake_hf_download(repo_id, filename, *, revision, local_files_only):
        calls.append((repo_id, filename, revision, local_files_only))
        if filename != "model.safetensors":
            raise huggingface_hub.errors.LocalEntryNotFoundError(filename)
        return str(tmp_path / "w6.safetensors")

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_download)
    teacher = build_timm_teacher(teacher_config(weights="hf-hub:someone/resnet@v1"), GREY)
    assert_loaded(teacher, state)
    assert ("someone/resnet", "model.safetensors", "v1", False) in calls


def test_pretrained_and_weights_together_are_a_recipe_error() -> None:
    with pytest.raises(ValueError, match="either weights or pretrained"):
        teacher_config(pretrained=True, weights="x.pth")
    with pytest.raises(ValueError, match="hf-hub:<org>/<repo>"):
        teacher_config(weights="hf-hub:no-slash")


def test_a_hub_out_of_reach_costs_one_try_and_one_line(caches, monkeypatch, capfd) -> None:
    """huggingface_hub's own downloader against a closed port: its retries (sleeps skipped here) print
    one line, not one per attempt, and the other file names are not tried."""
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", HF_DOWNLOAD)
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", "http://127.0.0.1:9/{repo_id}/resolve/{revision}/{filename}"
    )
    monkeypatch.setattr(_http.time, "sleep", lambda seconds: None)
    asked = []
    real = hf_hub._hf_download
    monkeypatch.setattr(hf_hub, "_hf_download", lambda *a: asked.append(a[1]) or real(*a))
    with pytest.raises(UserError, match=r"huggingface\.co could not be reached") as e:
        hf_hub.hf_file("hf-hub:someone/resnet", "teacher.weights")
    assert asked == ["model.safetensors"]  # not pytorch_model.bin as well
    assert "HF_HUB_OFFLINE=1" in (e.value.fix or "") and "srdistill weights fetch hf-hub:someone/resnet" in (
        e.value.fix or ""
    )
    err = capfd.readouterr().err
    assert "Retrying" not in err and "thrown while requesting" not in err
    assert err.count("huggingface.co does not answer") == 1


def test_weights_fetch_downloads_a_hub_repo_with_its_config(tmp_path: Path, cli, monkeypatch) -> None:
    import huggingface_hub

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    asked = []

    def fake_hf_download(repo_id, filename, *, revision, local_files_only):
        asked.append(filename)
        path = tmp_path / filename
        path.write_bytes(b"{}" if filename == "config.json" else b"weights")
        return str(path)

    monkeypatch.setattr(huggingface_hub, "hf_hub_download", fake_hf_download)
    result = cli("weights", "fetch", f"hf-hub:{TEST_RESNET_HUB}")
    assert result.exit_code == 0, result.output
    assert asked == ["model.safetensors", "config.json"]


@pytest.mark.parametrize(
    "variable",
    [
        "HUGGINGFACE_HUB_CACHE",
        pytest.param("HF_HUB_CACHE", marks=pytest.mark.slow),
        pytest.param("HF_HOME", marks=pytest.mark.slow),
    ],
)
def test_weights_list_finds_the_cache_wherever_huggingface_hub_looks(tmp_path: Path, variable: str) -> None:
    """A fresh process, so that huggingface_hub reads the environment itself (the legacy name included)."""
    cache = tmp_path / "cache"
    hf_cache_entry(
        cache / "hub" if variable == "HF_HOME" else cache, "someone/grey-resnet", {"model.safetensors": b"x"}
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGINGFACE_"))}
    env |= {variable: str(cache), "TORCH_HOME": str(tmp_path / "torch"), "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "srdistill", "weights", "list"], capture_output=True, text=True,
                          env=env, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "hf-hub:someone/grey-resnet" in done.stdout
